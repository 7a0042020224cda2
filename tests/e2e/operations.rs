//! Conversation status, channel metrics and Prometheus counters over HTTP.

use std::time::Duration;

use omni_tests::process::{OmniProcess, plugin};
use omni_tests::wasm;
use serde_json::json;

#[tokio::test]
async fn status_metrics_and_counters() {
    let omni = OmniProcess::start(&plugin("webchat", wasm::webchat(), "")).await;
    let body = json!({"visitor_id": "v-1", "message_id": "m-1", "text": "help"});
    assert_eq!(omni.post_json("/hooks/webchat/messages", &body).await.0, 202);
    let (_, page) = omni.api_get("/v1/conversations").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = omni
        .api_post(&format!("/v1/conversations/{id}/messages"), &json!({"text": "on it"}))
        .await;
    assert_eq!(status, 202);
    let path = format!("/v1/conversations/{id}");
    omni.eventually(&path, Duration::from_secs(10), "the reply to be sent", |c| {
        (c["messages"][1]["status"] == "sent").then_some(())
    })
    .await;

    let update = json!({"status": "resolved", "assignee": "bo", "tags": ["billing"]});
    let (status, conversation) = omni.api_patch(&format!("/v1/conversations/{id}"), &update).await;
    assert_eq!(status, 200, "{conversation}");
    assert_eq!(conversation["status"], "resolved");
    assert_eq!(conversation["assignee"], "bo");
    let (status, error) = omni
        .api_patch(&format!("/v1/conversations/{id}"), &json!({"status": "closed"}))
        .await;
    assert_eq!(status, 422, "{error}");

    let rating = json!({"visitor_id": "v-1", "rating_id": "r-1", "score": 5});
    assert_eq!(omni.post_json("/hooks/webchat/csat", &rating).await.0, 202);

    let (status, report) = omni.api_get("/v1/metrics/channels").await;
    assert_eq!(status, 200, "{report}");
    let webchat = &report["channels"][0];
    assert_eq!(webchat["channel"], "webchat");
    assert_eq!(webchat["inbound_messages"], 1);
    assert_eq!(webchat["outbound_messages"], 1);
    assert_eq!(webchat["resolved_conversations"], 1);
    assert_eq!(webchat["first_contact_resolutions"], 1);
    assert_eq!(webchat["csat"]["count"], 1);
    assert_eq!(webchat["csat"]["average"], 5.0);
    assert_eq!(webchat["first_response"]["count"], 1);
    let (status, _) = omni.api_get("/v1/metrics/channels?from=yesterday").await;
    assert_eq!(status, 400);

    let (status, text) = omni.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.contains(r#"omni_webhooks_total{connector="webchat",outcome="ok"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"omni_deliveries_total{connector="webchat",outcome="sent"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"omni_csat_answers_total{connector="webchat"} 1"#),
        "{text}"
    );
}
