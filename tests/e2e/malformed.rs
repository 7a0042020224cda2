//! Malformed input gets a 4xx with a JSON body that says what is wrong.

use omni_tests::process::{OmniProcess, TOKEN, plugin};
use omni_tests::wasm;
use serde_json::{Value, json};

async fn host() -> OmniProcess {
    let config = format!("{}\n{}", plugin("webchat", wasm::webchat(), ""), "");
    OmniProcess::start(&format!("[limits]\n\n{config}")).await
}

fn code(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn bad_webhooks_get_useful_4xx_answers() {
    let omni = host().await;
    let post = |path: &str, content_type: &str, body: Vec<u8>| {
        omni.client
            .post(omni.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(reqwest::Response, u16, &str)> = vec![
        (
            post("/hooks/webchat/messages", "application/json", b"{not json".to_vec())
                .await
                .unwrap(),
            400,
            "bad_request",
        ),
        (
            post("/hooks/webchat/messages", "text/plain", b"hi".to_vec())
                .await
                .unwrap(),
            415,
            "unsupported_media_type",
        ),
        (
            post("/hooks/webchat/messages", "application/json", vec![0xff, 0xfe])
                .await
                .unwrap(),
            400,
            "bad_request",
        ),
        (
            post(
                "/hooks/webchat/messages",
                "application/json",
                b"{\"visitor_id\":1}".to_vec(),
            )
            .await
            .unwrap(),
            400,
            "bad_request",
        ),
        (
            post("/hooks/nope/messages", "application/json", b"{}".to_vec())
                .await
                .unwrap(),
            404,
            "unknown_connector",
        ),
        (
            post("/hooks/NOT%20VALID/x", "application/json", b"{}".to_vec())
                .await
                .unwrap(),
            404,
            "unknown_connector",
        ),
        (
            post("/hooks/webchat/messages", "application/json", vec![b' '; 2 << 20])
                .await
                .unwrap(),
            413,
            "payload_too_large",
        ),
        (
            post("/hooks/webchat/nowhere", "application/json", b"{}".to_vec())
                .await
                .unwrap(),
            404,
            "not_found",
        ),
        (
            omni.client
                .delete(omni.url("/hooks/webchat/messages"))
                .send()
                .await
                .unwrap(),
            405,
            "method_not_allowed",
        ),
        (
            omni.client.get(omni.url("/nowhere")).send().await.unwrap(),
            404,
            "not_found",
        ),
    ];
    for (i, (response, status, expected)) in cases.into_iter().enumerate() {
        assert_eq!(response.status().as_u16(), status, "case {i}");
        let body = response.text().await.unwrap();
        assert_eq!(code(&body), expected, "case {i}: {body}");
    }
    let response = omni
        .client
        .post(omni.url("/hooks/webchat/messages"))
        .header("content-type", "application/json")
        .header("x-odd", reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response.text().await.unwrap().contains("x-odd"));
}

#[tokio::test]
async fn bad_api_requests_get_useful_4xx_answers() {
    let omni = host().await;
    let get = |path: &str, token: Option<&str>| {
        let request = omni.client.get(omni.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    let missing = "01a21c75-a7b7-729e-9f0a-f1b2fcbe307e";
    let cases: Vec<(reqwest::Response, u16, &str)> = vec![
        (get("/v1/conversations", None).await.unwrap(), 401, "unauthorized"),
        (
            get("/v1/conversations", Some("wrong")).await.unwrap(),
            401,
            "unauthorized",
        ),
        (
            get("/v1/conversations/not-a-uuid", Some(TOKEN)).await.unwrap(),
            400,
            "invalid_request",
        ),
        (
            get(&format!("/v1/conversations/{missing}"), Some(TOKEN)).await.unwrap(),
            404,
            "not_found",
        ),
        (
            get(&format!("/v1/persons/{missing}"), Some(TOKEN)).await.unwrap(),
            404,
            "not_found",
        ),
        (
            get("/v1/conversations?status=maybe", Some(TOKEN)).await.unwrap(),
            400,
            "invalid_request",
        ),
        (
            get("/v1/conversations?cursor=garbage", Some(TOKEN)).await.unwrap(),
            400,
            "invalid_request",
        ),
    ];
    for (i, (response, status, expected)) in cases.into_iter().enumerate() {
        assert_eq!(response.status().as_u16(), status, "case {i}");
        let body = response.text().await.unwrap();
        assert_eq!(code(&body), expected, "case {i}: {body}");
    }
    let path = format!("/v1/conversations/{missing}/messages");
    let post = async |body: Value| omni.api_post(&path, &body).await;
    let (status, error) = post(json!({"text": ""})).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, error) = post(json!({"txt": "typo"})).await;
    assert_eq!(status, 422, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("txt"));
    let (status, _) = post(json!({"text": "hello"})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_openapi_document_describes_the_routes() {
    let omni = host().await;
    let (status, body) = omni.get("/v1/openapi.json").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    for path in [
        "/v1/conversations",
        "/v1/conversations/{id}",
        "/v1/conversations/{id}/messages",
        "/v1/persons/{id}",
        "/healthz",
        "/readyz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the document");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
