//! `cargo bench -p omni-tests --bench instances`: what each instance policy
//! costs for a plugin in Rust (the web chat connector) and one in Python
//! (the LINE connector, componentize-py), measured in one run.
//!
//! For each plugin and policy: the cost of a fresh instance as the host
//! measures it at load (which `auto` decides by), and the per-event time of
//! `handle-webhook` (median of batch means), so the warm/fresh ratio of each
//! plugin compares like with like. Set `OMNI_BENCH_EVENTS` to change the
//! batch size (default 500; 11 batches).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use omni_core::ConnectorId;
use omni_host::config::{Location, PluginConfig};
use omni_host::connector::Connector;
use omni_host::runtime::bindings::wit;
use omni_host::runtime::{EngineOptions, InstanceConfig, Limits, PolicyChoice, Runtime};
use omni_plugin_sdk::crypto;
use omni_tests::{load, wasm};

/// The LINE connector's test channel secret (its conformance sample's).
const LINE_SECRET: &str = "conformance-channel-secret";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(report());
}

fn plugin(wasm: &Path, policy: PolicyChoice, memory_mb: usize) -> PluginConfig {
    // Only the LINE connector declares these.
    let secrets = if wasm == wasm::line() {
        BTreeMap::from([
            ("channel_secret".to_owned(), LINE_SECRET.to_owned()),
            ("channel_access_token".to_owned(), "token".to_owned()),
        ])
    } else {
        BTreeMap::new()
    };
    PluginConfig {
        id: ConnectorId::new("bench").unwrap(),
        wasm: wasm.to_owned(),
        config: serde_json::Map::new(),
        config_locations: BTreeMap::new(),
        workspace: omni_core::DEFAULT_WORKSPACE.to_owned(),
        location: Location {
            file: "bench.toml".into(),
            line: 1,
            column: 1,
        },
        secrets,
        limits: Limits {
            memory_bytes: memory_mb << 20,
            ..Limits::default()
        },
        allowed_hosts: None,
        send_limits: Default::default(),
        subscribe: Default::default(),
        subscribe_location: None,
        lookup_ttl: Duration::from_secs(600),
        instances: InstanceConfig {
            policy,
            ..InstanceConfig::default()
        },
        inbound: None,
    }
}

fn request(path: &str, headers: Vec<(&str, String)>, body: String) -> wit::HttpRequest {
    wit::HttpRequest {
        method: "POST".into(),
        path: path.into(),
        query: String::new(),
        headers: headers
            .into_iter()
            .map(|(name, value)| wit::Header {
                name: name.into(),
                value,
            })
            .collect(),
        body: body.into_bytes(),
    }
}

fn webchat_event(i: u64) -> wit::HttpRequest {
    request(
        "/messages",
        vec![("content-type", "application/json".into())],
        load::visitor_message(i),
    )
}

/// A LINE text message event, signed as LINE signs it.
fn line_event(i: u64) -> wit::HttpRequest {
    let body = serde_json::json!({
        "destination": "Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "events": [{
            "type": "message",
            "mode": "active",
            "timestamp": 1_700_000_000_000u64 + i,
            "source": {"type": "user", "userId": format!("U{:032x}", i % 97)},
            "webhookEventId": format!("01H{i:023}"),
            "deliveryContext": {"isRedelivery": false},
            "replyToken": "757913772c4646b784d4b7ce46d12671",
            "message": {"id": format!("{}", 100_000_000 + i), "type": "text", "text": "Is my order on its way?"}
        }]
    })
    .to_string();
    let signature = crypto::base64(&crypto::hmac_sha256(LINE_SECRET.as_bytes(), body.as_bytes()));
    request(
        "/webhook",
        vec![
            ("content-type", "application/json".into()),
            ("x-line-signature", signature),
        ],
        body,
    )
}

/// Median over batches of the mean time per event; every call must succeed.
async fn per_event(connector: &dyn Connector, make: fn(u64) -> wit::HttpRequest, batch: u64) -> Duration {
    let call = async |i| {
        let output = connector.handle_webhook(make(i)).await.expect("the call runs");
        let outcome = output.value.expect("the plugin accepts the event");
        assert_eq!(outcome.events.len(), 1, "one message per webhook");
    };
    for i in 0..batch / 5 {
        call(i).await;
    }
    let mut means = Vec::new();
    for b in 0..11u64 {
        let started = Instant::now();
        for i in 0..batch {
            call(b * batch + i).await;
        }
        means.push(started.elapsed() / batch as u32);
    }
    means.sort();
    means[means.len() / 2]
}

/// A plugin to measure: its name, component, a webhook maker and its memory limit in MiB.
type Subject = (&'static str, &'static Path, fn(u64) -> wit::HttpRequest, usize);

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

async fn report() {
    let batch: u64 = std::env::var("OMNI_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let runtime = Runtime::new(
        EngineOptions {
            max_memory_bytes: 64 << 20,
            ..EngineOptions::default()
        },
        None,
    )
    .unwrap();
    println!("# Instance policies: fresh vs warm\n");
    println!(
        "machine: {} cores; handle-webhook per event, median of 11 batches × {batch}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "| plugin | fresh instance (at load) | `auto` picks | per event, fresh | per event, warm | fresh / warm |"
    );
    println!("|---|---|---|---|---|---|");
    let plugins: [Subject; 2] = [
        ("webchat (Rust, 0.2 MB)", wasm::webchat(), webchat_event, 64),
        ("line (Python, componentize-py, 18 MB)", wasm::line(), line_event, 64),
    ];
    for (name, path, make, memory_mb) in plugins {
        let mut times = Vec::new();
        let mut load = None;
        for policy in [PolicyChoice::Fresh, PolicyChoice::Warm, PolicyChoice::Auto] {
            let config = plugin(path, policy, memory_mb);
            let (connector, report) = runtime.load_channel(&config, 0, None).await.unwrap();
            if policy == PolicyChoice::Auto {
                load = Some(report);
            } else {
                times.push(per_event(&connector, make, batch).await);
            }
        }
        let load = load.expect("loaded under auto");
        println!(
            "| {name} | {} | {} | {} | {} | {:.1}× |",
            micros(load.fresh_cost),
            load.policy,
            micros(times[0]),
            micros(times[1]),
            times[0].as_secs_f64() / times[1].as_secs_f64()
        );
    }
}
