//! Live connectors: while web chat traffic flows, connectors are added
//! (SIGHUP), reconfigured and upgraded (the admin API), refused when the new
//! config is broken, and removed — and no webhook is refused on the way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use omni_tests::line::{self, FakeLine};
use omni_tests::process::{OmniProcess, plugin};
use omni_tests::wasm;
use serde_json::{Value, json};

/// Posts web chat messages from two clients until `stop`; counts answers
/// that were not 202.
fn steady_traffic(
    base: String,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..2)
        .map(|client_no| {
            let (base, stop, sent, refused) = (base.clone(), stop.clone(), sent.clone(), refused.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let body = json!({"visitor_id": format!("v-{client_no}"), "message_id": format!("m-{client_no}-{n}"), "text": "still there?"});
                    let status = client
                        .post(format!("{base}/hooks/webchat/messages"))
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    sent.fetch_add(1, Ordering::SeqCst);
                    if status != 202 {
                        refused.fetch_add(1, Ordering::SeqCst);
                        eprintln!("webhook answered {status} during a reload");
                    }
                    n += 1;
                }
            })
        })
        .collect()
}

async fn connectors(omni: &OmniProcess) -> Vec<(String, String)> {
    let (status, body) = omni.api_get("/v1/admin/connectors").await;
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["plugin"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn reload(omni: &OmniProcess) -> (u16, Value) {
    omni.api_post("/v1/admin/reload", &json!({})).await
}

fn write_config(omni: &OmniProcess, header: &str, plugins: &[&str]) {
    std::fs::write(omni.dir.join("omni.toml"), format!("{header}\n{}", plugins.join("\n"))).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connectors_change_under_traffic_without_a_refused_webhook() {
    let line_api = FakeLine::start().await;
    let webchat = plugin("webchat", wasm::webchat(), "");
    let mut omni = OmniProcess::start(&webchat).await;
    // What the harness wrote before our entries: server, storage, token.
    let written = std::fs::read_to_string(omni.dir.join("omni.toml")).unwrap();
    let header = written.split("[[plugins]]").next().unwrap().to_owned();
    let probe = omni.dir.join("probe.wasm");
    std::fs::copy(wasm::legacy(), &probe).unwrap();
    let probe_entry = plugin("probe", &probe, "");

    let stop = Arc::new(AtomicBool::new(false));
    let (sent, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = steady_traffic(omni.base.clone(), stop.clone(), sent.clone(), refused.clone());

    // Add LINE and the probe with SIGHUP.
    let line_entry = line::plugin_entry(&line_api);
    write_config(&omni, &header, &[&webchat, &line_entry, &probe_entry]);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &omni.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    omni.eventually(
        "/v1/admin/connectors",
        Duration::from_secs(60),
        "line and probe added",
        |body| {
            let ids: Vec<&str> = body.as_array()?.iter().filter_map(|c| c["id"].as_str()).collect();
            (ids.contains(&"line") && ids.contains(&"probe")).then_some(())
        },
    )
    .await;
    let user = "U4af4980629bd5f9b5c1f06bd9aa9a4b5";
    assert!(line::post_event(&omni.client, &omni.base, user, "325708", "hello after the reload").await);

    // Reconfigure web chat and upgrade the probe's component in place.
    let webchat_tuned = plugin("webchat", wasm::webchat(), "limits = { timeout_ms = 1500 }");
    std::fs::copy(wasm::hostile(), &probe).unwrap();
    write_config(&omni, &header, &[&webchat_tuned, &line_entry, &probe_entry]);
    let (status, report) = reload(&omni).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["replaced"], json!(["webchat", "probe"]), "{report}");
    assert_eq!(report["unchanged"], json!(["line"]), "{report}");
    assert!(
        connectors(&omni)
            .await
            .contains(&("probe".to_owned(), "hostile".to_owned()))
    );
    let (status, body) = omni.get("/hooks/probe/ok").await;
    assert_eq!((status, body.as_str()), (200, "ok"), "the upgraded component answers");

    // A broken config is refused with its place, and changes nothing.
    let broken = plugin("webchat", wasm::webchat(), "limits = { timeout_ms = 0 }");
    write_config(&omni, &header, &[&broken, &line_entry, &probe_entry]);
    let (status, error) = reload(&omni).await;
    assert_eq!(status, 422, "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("omni.toml:") && message.contains("plugins[0].limits.timeout_ms"),
        "{message}"
    );
    assert_eq!(connectors(&omni).await.len(), 3);

    // Remove LINE: its webhooks are unknown from now on.
    write_config(&omni, &header, &[&webchat_tuned, &probe_entry]);
    let (status, report) = reload(&omni).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["removed"], json!(["line"]), "{report}");
    let (status, _) = omni.get("/hooks/line/webhook").await;
    assert_eq!(status, 404);

    stop.store(true, Ordering::SeqCst);
    for task in traffic {
        task.await.unwrap();
    }
    let (sent, refused) = (sent.load(Ordering::SeqCst), refused.load(Ordering::SeqCst));
    assert!(sent > 20, "the traffic ran ({sent} webhooks)");
    assert_eq!(refused, 0, "{refused} of {sent} webhooks refused during reloads");
    assert!(omni.is_running());
}
