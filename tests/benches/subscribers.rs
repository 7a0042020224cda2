//! `cargo bench -p omni-tests --bench subscribers`: does a failing
//! subscriber slow ingestion? Webhooks per second into a real host (web chat
//! over HTTP into SQLite) with no subscriber, with an outgoing-webhook
//! subscriber whose receiver is down (503: retried, the subscriber pauses),
//! and with one whose receiver refuses everything (400: every event becomes
//! a dead letter, the most store writes a subscriber can cause). Runs
//! alternate (after one unreported warm-up run) so drift hits every case
//! alike; ratios are against "none" in the same run.
//!
//! `OMNI_BENCH_SECONDS` (default 5) and `OMNI_BENCH_CONCURRENCY` (default 32).

use std::collections::BTreeMap;
use std::time::Duration;

use omni_host::app::App;
use omni_host::config::Config;
use omni_tests::load::{self, LoadResult};
use omni_tests::process::free_port;
use omni_tests::provider::FakeProvider;
use omni_tests::wasm;

const CASES: [&str; 3] = ["none", "receiver down (503)", "receiver refusing (400)"];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(report());
}

/// Runs one host with the case's subscriber under load; returns the load
/// result and what the subscriber did meanwhile.
async fn run(case: &str, concurrency: usize, seconds: u64) -> (LoadResult, String) {
    let dir = tempfile::tempdir().unwrap();
    let status = match case {
        "receiver down (503)" => 503,
        _ => 400,
    };
    let receiver = FakeProvider::start(move |_, _| (status, "{\"error\":\"no\"}".to_owned())).await;
    let port = free_port();
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\ndata_dir = \"data\"\n\n[[plugins]]\nid = \"webchat\"\nwasm = \"{}\"\n",
        wasm::webchat().display()
    );
    if case != "none" {
        text.push_str(&format!(
            "\n[[plugins]]\nid = \"hook\"\nwasm = \"{}\"\nallowed_hosts = [\"{1}\"]\n\
             secrets = {{ signing_secret = {{ env = \"SECRET\" }} }}\n[plugins.config]\nurl = \"{1}/events\"\n",
            wasm::webhook_out().display(),
            receiver.origin()
        ));
    }
    let secret = |name: &str| (name == "SECRET").then(|| omni_tests::process::WEBHOOK_SECRET.to_owned());
    let config = Config::parse(&dir.path().join("omni.toml"), &text, &secret).unwrap();
    let (app, _) = App::build(config).await.unwrap();
    let store = app.state.store.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(async move {
        let _ = stopped.await;
    }));
    let url = format!("http://127.0.0.1:{port}/hooks/webchat/messages");
    for _ in 0..200 {
        if reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let result = load::drive(&url, concurrency, seconds).await;
    let subscriber = store
        .subscribers()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == "hook")
        .map(|s| {
            format!(
                "{} receiver calls; {} events not yet looked at, {} waiting, {} dead",
                receiver.requests().len(),
                s.lag,
                s.waiting,
                s.dead
            )
        })
        .unwrap_or_else(|| "-".to_owned());
    let _ = stop.send(());
    let _ = server.await;
    (result, subscriber)
}

async fn report() {
    let (seconds, concurrency) = load::settings();
    let rounds = 3;
    // The first host of the process pays for lazy set-up; not reported.
    run("none", concurrency, 1).await;
    let mut runs: BTreeMap<&str, Vec<(LoadResult, String)>> = BTreeMap::new();
    for _ in 0..rounds {
        for case in CASES {
            runs.entry(case)
                .or_default()
                .push(run(case, concurrency, seconds).await);
        }
    }
    println!("## Ingestion with a failing subscriber\n");
    println!(
        "{concurrency} concurrent keep-alive clients posting unique web chat messages (1,000 visitors) into one host on \
         SQLite, {rounds} alternating runs of {seconds} s per case; the subscriber is the webhook-out integration \
         following every event.\n"
    );
    println!(
        "| subscriber | webhooks/s (mean) | runs | vs none | p50 | p99 | errors | the subscriber meanwhile (last run) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mean = |case: &str| {
        let rates: Vec<f64> = runs[case].iter().map(|(r, _)| r.rate()).collect();
        rates.iter().sum::<f64>() / rates.len() as f64
    };
    let baseline = mean("none");
    for case in CASES {
        let results = &runs[case];
        let each: Vec<String> = results.iter().map(|(r, _)| format!("{:.0}", r.rate())).collect();
        let p50 = results.iter().map(|(r, _)| r.p50).max().unwrap_or_default();
        let p99 = results.iter().map(|(r, _)| r.p99).max().unwrap_or_default();
        let errors: u64 = results.iter().map(|(r, _)| r.errors).sum();
        println!(
            "| {case} | {:.0} | {} | {:.2} | {:.2} ms | {:.2} ms | {errors} | {} |",
            mean(case),
            each.join(", "),
            mean(case) / baseline,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            results.last().map(|(_, s)| s.as_str()).unwrap_or("-")
        );
    }
    println!();
}
