//! Token scopes: a read-only token reads, an agent token also replies and
//! updates conversations, only an admin token retries, replays and reloads;
//! a wrong token is still `401`.

use omni_tests::process::{AGENT_TOKEN, OmniProcess, READ_TOKEN, TOKEN, plugin};
use omni_tests::wasm;
use reqwest::Method;
use serde_json::{Value, json};

/// Asserts a `403 forbidden` whose message names the token's scope and the
/// one the request needs.
fn assert_forbidden((status, body): (u16, Value), has: &str, needs: &str) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("has scope \"{has}\"")), "{message}");
    assert!(message.contains(&format!("needs scope \"{needs}\"")), "{message}");
}

#[tokio::test]
async fn each_scope_does_what_its_role_needs_and_no_more() {
    let omni = OmniProcess::start(&plugin("webchat", wasm::webchat(), "")).await;
    let visitor = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "Where is my order?", "name": "Ann"});
    let (status, body) = omni.post_json("/hooks/webchat/messages", &visitor).await;
    assert_eq!(status, 202, "{body}");

    // Read: every GET, nothing else.
    let (status, page) = omni.api_as(Method::GET, "/v1/conversations", READ_TOKEN, None).await;
    assert_eq!(status, 200, "{page}");
    let id = page["items"][0]["id"].as_str().expect("a conversation").to_owned();
    let conversation = format!("/v1/conversations/{id}");
    let messages = format!("{conversation}/messages");
    let (status, detail) = omni.api_as(Method::GET, &conversation, READ_TOKEN, None).await;
    assert_eq!(status, 200, "{detail}");
    let person = format!("/v1/persons/{}", detail["person_id"].as_str().unwrap());
    let (status, body) = omni.api_as(Method::GET, &person, READ_TOKEN, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = omni.api_as(Method::GET, "/v1/events", READ_TOKEN, None).await;
    assert_eq!(status, 200, "{body}");
    let reply = json!({"text": "It ships today."});
    assert_forbidden(
        omni.api_as(Method::POST, &messages, READ_TOKEN, Some(&reply)).await,
        "read",
        "agent",
    );
    let resolve = json!({"status": "resolved"});
    assert_forbidden(
        omni.api_as(Method::PATCH, &conversation, READ_TOKEN, Some(&resolve))
            .await,
        "read",
        "agent",
    );
    assert_forbidden(
        omni.api_as(Method::GET, "/v1/admin/connectors", READ_TOKEN, None).await,
        "read",
        "admin",
    );

    // Agent: reads, replies and updates conversations; no retries or reloads.
    let (status, body) = omni.api_as(Method::GET, &conversation, AGENT_TOKEN, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = omni.api_as(Method::POST, &messages, AGENT_TOKEN, Some(&reply)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued", "{body}");
    let pending = json!({"status": "pending"});
    let (status, body) = omni
        .api_as(Method::PATCH, &conversation, AGENT_TOKEN, Some(&pending))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "pending", "{body}");
    assert_forbidden(
        omni.api_as(Method::POST, "/v1/admin/reload", AGENT_TOKEN, Some(&json!({})))
            .await,
        "agent",
        "admin",
    );
    assert_forbidden(
        omni.api_as(Method::POST, "/v1/dead-letters/1/retry", AGENT_TOKEN, None)
            .await,
        "agent",
        "admin",
    );
    let replay = json!({"from": 0});
    assert_forbidden(
        omni.api_as(Method::POST, "/v1/subscribers/crm/replay", AGENT_TOKEN, Some(&replay))
            .await,
        "agent",
        "admin",
    );
    assert_forbidden(
        omni.api_as(Method::GET, "/v1/admin/connectors", AGENT_TOKEN, None)
            .await,
        "agent",
        "admin",
    );

    // Admin: everything. The retry and replay get past the scope check to
    // the handler, which finds nothing to retry or replay.
    let (status, body) = omni.api_as(Method::POST, &messages, TOKEN, Some(&reply)).await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = omni.api_as(Method::PATCH, &conversation, TOKEN, Some(&resolve)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = omni.api_as(Method::GET, "/v1/admin/connectors", TOKEN, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = omni
        .api_as(Method::POST, "/v1/admin/reload", TOKEN, Some(&json!({})))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = omni.api_as(Method::POST, "/v1/dead-letters/1/retry", TOKEN, None).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")), "{body}");
    let (status, body) = omni
        .api_as(Method::POST, "/v1/subscribers/crm/replay", TOKEN, Some(&replay))
        .await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")), "{body}");

    // A wrong or missing token is 401, whatever the route needs.
    for (method, path) in [(Method::GET, "/v1/conversations"), (Method::POST, "/v1/admin/reload")] {
        let (status, body) = omni.api_as(method.clone(), path, "not-a-token", None).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        let response = omni.client.request(method, omni.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401);
    }

    // Refusals are logged with the token's name, never the token.
    let logs = omni.logs();
    assert!(logs.contains("scope too low"), "{logs}");
    assert!(logs.contains("test-read") && logs.contains("test-agent"), "{logs}");
    for token in [TOKEN, READ_TOKEN, AGENT_TOKEN, "not-a-token"] {
        assert!(!logs.contains(token), "the log shows the token {token}:\n{logs}");
    }
}
