//! `cargo bench -p omni-tests --bench load`: the real `omni` binary (release)
//! under increasing load until it saturates, in three set-ups measured in one
//! run: one host on SQLite, one host on PostgreSQL, two hosts on one
//! PostgreSQL database (the clients split between them). Then a sustained
//! overload of one host, sampling its memory.
//!
//! Each step posts unique web chat messages from N keep-alive clients for
//! `OMNI_BENCH_SECONDS` (default 3) and reports accepted webhooks per second,
//! p50/p99 latency of the accepted ones, how many were shed (503/429: the
//! admission bound, default 256 in progress and 1,024 waiting) and the
//! hosts' resident memory after the step (4,096 clients is past the admission bound of
//! 256 in progress plus 1,024 waiting, so the host sheds). The load generator runs on the
//! same cores as the hosts. PostgreSQL is `OMNI_TEST_POSTGRES_URL` (default
//! the local server); without it those set-ups are skipped.

use std::time::{Duration, Instant};

use omni_tests::load::{self, LoadResult};
use omni_tests::process::{Database, OmniProcess, plugin};
use omni_tests::wasm;

/// Clients per step.
const STEPS: &[usize] = &[1, 4, 16, 64, 256, 1024, 4096];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(report());
}

/// Resident memory of a process, from `/proc` (Linux), in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn row(clients: usize, result: &LoadResult, rss: f64) {
    println!(
        "| {clients} | {:.0} | {:.1} ms | {:.1} ms | {} | {} | {rss:.0} MiB |",
        result.rate(),
        result.p50.as_secs_f64() * 1e3,
        result.p99.as_secs_f64() * 1e3,
        result.shed,
        result.errors,
    );
}

async fn scenario(name: &str, hosts: &[OmniProcess], seconds: u64) {
    println!("### {name}\n");
    println!("| clients | accepted/s | p50 | p99 | shed (503/429) | errors | resident memory |");
    println!("|---|---|---|---|---|---|---|");
    let urls: Vec<String> = hosts.iter().map(|h| h.url("/hooks/webchat/messages")).collect();
    let mut best = 0.0f64;
    for &clients in STEPS {
        let result = load::drive_many(&urls, clients, seconds).await;
        let rss: f64 = hosts.iter().map(|h| rss_mib(h.pid())).sum();
        row(clients, &result, rss);
        best = best.max(result.rate());
    }
    println!("\npeak: {best:.0} accepted webhooks/s\n");
}

async fn report() {
    let seconds = std::env::var("OMNI_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let config = plugin("webchat", wasm::webchat(), "");
    println!("# Load until saturation: one host on SQLite, one and two on PostgreSQL\n");
    println!(
        "machine: {} cores (shared by the hosts, PostgreSQL and the load generator); {seconds} s per step\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let sqlite = OmniProcess::start(&config).await;
    scenario("one host, SQLite", std::slice::from_ref(&sqlite), seconds).await;
    drop(sqlite);

    if let Some(database) = Database::postgres().await {
        let one = OmniProcess::start_on(&database, &config).await;
        scenario("one host, PostgreSQL", std::slice::from_ref(&one), seconds).await;
        drop(one);
        if let Some(database) = Database::postgres().await {
            let hosts = [
                OmniProcess::start_on(&database, &config).await,
                OmniProcess::start_on(&database, &config).await,
            ];
            scenario("two hosts, one PostgreSQL", &hosts, seconds).await;
        }
    } else {
        println!("(PostgreSQL unreachable: its set-ups were skipped)\n");
    }

    // Sustained overload: memory must level off, not grow with the backlog.
    let host = OmniProcess::start(&config).await;
    println!("### Sustained overload: one host, SQLite, 4096 clients for 40 s\n");
    println!("| after | resident memory | accepted/s in the interval | shed in the interval |");
    println!("|---|---|---|---|");
    let started = Instant::now();
    let url = host.url("/hooks/webchat/messages");
    for _ in 0..10 {
        let result = load::drive(&url, 4096, 4).await;
        println!(
            "| {:.0} s | {:.0} MiB | {:.0} | {} |",
            started.elapsed().as_secs_f64(),
            rss_mib(host.pid()),
            result.rate(),
            result.shed
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}
