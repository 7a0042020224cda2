//! The load generator of the benchmarks: keep-alive HTTP clients posting
//! web chat messages as fast as the host answers, with latency percentiles.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What one load run measured.
#[derive(Debug, Clone, Copy)]
pub struct LoadResult {
    /// Requests answered with the expected status.
    pub requests: u64,
    /// Requests that failed or got another status.
    pub errors: u64,
    /// Requests the host shed with 429 or 503 (back-pressure, not failure).
    pub shed: u64,
    /// How long the run took.
    pub elapsed: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th-percentile latency.
    pub p99: Duration,
}

impl LoadResult {
    /// Answered requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// A unique web chat message from one of 1,000 visitors.
pub fn visitor_message(i: u64) -> String {
    format!(
        r#"{{"visitor_id":"v-{}","message_id":"m-{i}","text":"Hello, where is my order {i}?","name":"Ann"}}"#,
        i % 1000
    )
}

/// Posts [`visitor_message`]s to `url` from `concurrency` clients for
/// `seconds`, counting `202 Accepted` answers.
pub async fn drive(url: &str, concurrency: usize, seconds: u64) -> LoadResult {
    drive_many(&[url.to_owned()], concurrency, seconds).await
}

/// Like [`drive`], spreading the clients over several hosts' URLs.
pub async fn drive_many(urls: &[String], concurrency: usize, seconds: u64) -> LoadResult {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("an HTTP client");
    let counter = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let shed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let url = urls[worker % urls.len()].clone();
        let (client, counter, errors, shed) = (client.clone(), counter.clone(), errors.clone(), shed.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(visitor_message(i))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().as_u16() == 202 => latencies.push(sent.elapsed()),
                    Ok(r) if matches!(r.status().as_u16(), 429 | 503) => {
                        shed.fetch_add(1, Ordering::Relaxed);
                        // A shed client backs off briefly, as a provider would.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.expect("a load worker"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    LoadResult {
        requests: latencies.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        shed: shed.load(Ordering::Relaxed),
        elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

/// `OMNI_BENCH_SECONDS` (default 5) and `OMNI_BENCH_CONCURRENCY` (default 32).
pub fn settings() -> (u64, usize) {
    let seconds = std::env::var("OMNI_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let concurrency = std::env::var("OMNI_BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    (seconds, concurrency)
}
