//! `cargo bench -p omni-tests --bench report`: the figures of
//! docs/performance.md, measured in one run so the ratios compare like with like.
//!
//! 1. Per-event cost of the sandbox: the web chat connector's
//!    `handle-webhook` on a fresh instance, beside the same crate compiled
//!    natively behind the same `Connector` trait.
//! 2. End-to-end webhooks per second over HTTP into SQLite, sandboxed and
//!    native, with p50/p99 latency (the load generator runs in-process on the
//!    same cores, for both).
//! 3. Host cold start (store + migrations + plugin load) with and without the
//!    precompiled-component cache, and, if `target/release/omni` exists, the
//!    real binary from spawn to `/readyz`.
//!
//! Set `OMNI_BENCH_SECONDS` to change the length of each load run (default 5)
//! and `OMNI_BENCH_CONCURRENCY` the number of concurrent clients (default 32).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use omni_core::ConnectorId;
use omni_host::admission::{Admission, AdmissionConfig};
use omni_host::app::{App, open_store};
use omni_host::config::{Config, Location, PluginConfig};
use omni_host::connector::{Connector, Registry};
use omni_host::contention::RetryLanes;
use omni_host::http::{self, AppInner};
use omni_host::ingest::Inbound;
use omni_host::log_watch::LogWatch;
use omni_host::runtime::bindings::wit;
use omni_host::runtime::{EngineOptions, Limits, Runtime};
use omni_host::telemetry::Telemetry;
use omni_tests::load::{self, LoadResult};
use omni_tests::native::NativeConnector;
use omni_tests::wasm;
use omni_webchat::Webchat;
use tokio::sync::Notify;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(report());
}

async fn report() {
    println!("# Omni benchmark report\n");
    println!(
        "machine: {} cores, {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::ARCH
    );
    per_event().await;
    end_to_end().await;
    cold_start().await;
}

fn webchat_plugin(dir: &Path) -> PluginConfig {
    PluginConfig {
        id: ConnectorId::new("webchat").unwrap(),
        wasm: wasm::webchat().to_owned(),
        config: serde_json::Map::new(),
        config_locations: BTreeMap::new(),
        workspace: omni_core::DEFAULT_WORKSPACE.to_owned(),
        location: Location {
            file: dir.join("omni.toml"),
            line: 1,
            column: 1,
        },
        secrets: BTreeMap::new(),
        limits: Limits::default(),
        allowed_hosts: None,
        send_limits: Default::default(),
        subscribe: Default::default(),
        subscribe_location: None,
        lookup_ttl: std::time::Duration::from_secs(600),
        instances: Default::default(),
        inbound: None,
    }
}

fn visitor_message(i: u64) -> wit::HttpRequest {
    let body = load::visitor_message(i);
    wit::HttpRequest {
        method: "POST".into(),
        path: "/messages".into(),
        query: String::new(),
        headers: vec![wit::Header {
            name: "content-type".into(),
            value: "application/json".into(),
        }],
        body: body.into_bytes(),
    }
}

/// Median of per-event means over batches.
async fn time_per_event(connector: &dyn Connector, batches: usize, batch: u64) -> Duration {
    for i in 0..1000 {
        connector
            .handle_webhook(visitor_message(i))
            .await
            .unwrap()
            .value
            .unwrap();
    }
    let mut means = Vec::with_capacity(batches);
    for b in 0..batches as u64 {
        let started = Instant::now();
        for i in 0..batch {
            let outcome = connector.handle_webhook(visitor_message(b * batch + i)).await.unwrap();
            std::hint::black_box(outcome.value.unwrap());
        }
        means.push(started.elapsed() / batch as u32);
    }
    means.sort();
    means[means.len() / 2]
}

async fn per_event() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(EngineOptions::default(), None).unwrap();
    let (sandboxed, _) = runtime
        .load_channel(&webchat_plugin(dir.path()), 0, None)
        .await
        .unwrap();
    let native = NativeConnector::<Webchat>::new("webchat", None, serde_json::Map::new(), BTreeMap::new());

    let wasm_cost = time_per_event(&sandboxed, 21, 1000).await;
    let native_cost = time_per_event(&native, 21, 1000).await;
    println!("## Per-event cost of handle-webhook (web chat message, no store)\n");
    println!("| connector | per event (median of 21 batches × 1,000) |");
    println!("|---|---|");
    println!(
        "| sandboxed (fresh instance per call, pooling allocator) | {:.1} µs |",
        micros(wasm_cost)
    );
    println!(
        "| native (same crate, same host path) | {:.1} µs |",
        micros(native_cost)
    );
    println!(
        "\nsandbox / native = {:.1}×, sandbox overhead = {:.1} µs per event\n",
        wasm_cost.as_secs_f64() / native_cost.as_secs_f64(),
        micros(wasm_cost.saturating_sub(native_cost))
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn open_store_in(dir: &Path) -> Arc<dyn omni_core::Store> {
    let config = Config::parse(&dir.join("omni.toml"), "[storage]\ndata_dir = \"data\"\n", &|_| None).unwrap();
    open_store(&config).await.unwrap()
}

async fn serve_and_load(
    connector: Arc<dyn Connector>,
    store: Arc<dyn omni_core::Store>,
    concurrency: usize,
    seconds: u64,
) -> LoadResult {
    let registry = Arc::new(Registry::new());
    registry.insert(connector);
    let telemetry = Arc::new(Telemetry::new());
    let log = LogWatch::new(0);
    let inbound = Inbound {
        store: store.clone(),
        lanes: Arc::new(RetryLanes::new()),
        normalizer: Default::default(),
        telemetry: telemetry.clone(),
        log: log.clone(),
    };
    let state = Arc::new(AppInner {
        store,
        registry,
        inbound,
        telemetry,
        outbox: Arc::new(Notify::new()),
        tokens: Vec::new(),
        max_body_bytes: 1 << 20,
        log,
        lookup_ttls: Default::default(),
        admission: Arc::new(Admission::new(AdmissionConfig::default(), [])),
        reloader: std::sync::OnceLock::new(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, http::router(state)).await });

    let result = load::drive(
        &format!("http://{address}/hooks/webchat/messages"),
        concurrency,
        seconds,
    )
    .await;
    server.abort();
    result
}

async fn end_to_end() {
    let (seconds, concurrency) = load::settings();
    let rounds = 2;
    let engine = Runtime::new(EngineOptions::default(), None).unwrap();
    // Alternate the two so drift in the machine's state hits both alike.
    let mut runs: BTreeMap<&str, Vec<LoadResult>> = BTreeMap::new();
    for _ in 0..rounds {
        for kind in ["native", "sandboxed"] {
            let dir = tempfile::tempdir().unwrap();
            let store = open_store_in(dir.path()).await;
            let connector: Arc<dyn Connector> = if kind == "sandboxed" {
                let plugin = webchat_plugin(dir.path());
                Arc::new(engine.load_channel(&plugin, 0, Some(store.clone())).await.unwrap().0)
            } else {
                Arc::new(NativeConnector::<Webchat>::new(
                    "webchat",
                    Some(store.clone()),
                    serde_json::Map::new(),
                    BTreeMap::new(),
                ))
            };
            runs.entry(kind)
                .or_default()
                .push(serve_and_load(connector, store, concurrency, seconds).await);
        }
    }
    println!("## End-to-end webhooks over HTTP into SQLite\n");
    println!(
        "{concurrency} concurrent keep-alive clients, {rounds} alternating runs of {seconds} s each, unique messages \
         from 1,000 visitors; each request is parsed by the connector and stored (dedupe, identity, conversation, \
         message) in one SQLite transaction before the 202. The load generator shares the machine's cores.\n"
    );
    println!("| connector | webhooks/s (mean of runs) | runs | p50 | p99 | errors |");
    println!("|---|---|---|---|---|---|");
    let mut throughput = BTreeMap::new();
    for kind in ["sandboxed", "native"] {
        let results = &runs[kind];
        let rates: Vec<f64> = results.iter().map(LoadResult::rate).collect();
        let mean = rates.iter().sum::<f64>() / rates.len() as f64;
        throughput.insert(kind, mean);
        let p50 = results.iter().map(|r| r.p50).max().unwrap_or_default();
        let p99 = results.iter().map(|r| r.p99).max().unwrap_or_default();
        let errors: u64 = results.iter().map(|r| r.errors).sum();
        let each: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "| {kind} | {mean:.0} | {} | {:.2} ms | {:.2} ms | {errors} |",
            each.join(", "),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    println!(
        "\nsandboxed / native throughput = {:.2} (p50/p99: the worse of the runs)\n",
        throughput["sandboxed"] / throughput["native"]
    );
}

async fn build_once(dir: &Path) -> Duration {
    let text = format!(
        "[storage]\ndata_dir = \"data\"\n\n[[plugins]]\nid = \"webchat\"\nwasm = \"{}\"\n",
        wasm::webchat().display()
    );
    let config = Config::parse(&dir.join("omni.toml"), &text, &|_| None).unwrap();
    let started = Instant::now();
    let (app, _) = App::build(config).await.unwrap();
    let elapsed = started.elapsed();
    drop(app);
    elapsed
}

async fn cold_start() {
    let runs = 5;
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        cold.push(build_once(dir.path()).await);
        warm.push(build_once(dir.path()).await);
    }
    cold.sort();
    warm.sort();
    println!("## Host start-up (in process: open SQLite, migrate, load the web chat plugin)\n");
    println!("| | median of {runs} |");
    println!("|---|---|");
    println!(
        "| empty cache (compile the component) | {:.1} ms |",
        cold[runs / 2].as_secs_f64() * 1e3
    );
    println!("| precompiled cache | {:.1} ms |", warm[runs / 2].as_secs_f64() * 1e3);
    println!(
        "\nwithout / with cache = {:.1}×\n",
        cold[runs / 2].as_secs_f64() / warm[runs / 2].as_secs_f64()
    );
    binary_start(runs).await;
}

/// The real binary, spawn to `/readyz`, when a release build is present.
async fn binary_start(runs: usize) {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("omni"))
        .filter(|p| p.exists());
    let Some(bin) = bin else {
        println!("(build `cargo build --release -p omni-host` to also time the real binary from spawn to /readyz)\n");
        return;
    };
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        cold.push(spawn_until_ready(&bin, dir.path()).await);
        warm.push(spawn_until_ready(&bin, dir.path()).await);
    }
    cold.sort();
    warm.sort();
    println!("## `omni run`, spawn to first successful /readyz (release binary)\n");
    println!("| | median of {runs} |");
    println!("|---|---|");
    println!("| empty cache | {:.1} ms |", cold[runs / 2].as_secs_f64() * 1e3);
    println!("| precompiled cache | {:.1} ms |\n", warm[runs / 2].as_secs_f64() * 1e3);
}

async fn spawn_until_ready(bin: &Path, dir: &Path) -> Duration {
    let port = omni_tests::process::free_port();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\ndata_dir = \"data\"\n\n[[plugins]]\nid = \"webchat\"\nwasm = \"{}\"\n",
        wasm::webchat().display()
    );
    std::fs::write(dir.join("omni.toml"), config).unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(["run", "--config"])
        .arg(dir.join("omni.toml"))
        .env("OMNI_LOG", "warn")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/readyz");
    loop {
        if let Ok(r) = client.get(&url).send().await
            && r.status().is_success()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(started.elapsed() < Duration::from_secs(60), "omni did not start");
    }
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}
