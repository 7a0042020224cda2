//! `cargo bench -p omni-tests --bench store`: the store's figures in
//! docs/performance.md, on SQLite and on PostgreSQL, in one run.
//!
//! 1. Identity resolution with a large graph loaded (default 1,000,000
//!    identities: 250,000 persons × 4 identities, 3 trusted links each):
//!    latency and throughput of resolving a known sender with a verified
//!    claim it already holds, and of a new sender whose verified claim joins
//!    an existing person.
//! 2. Message append (the whole ingest transaction of one message from a
//!    known person) beside the raw insert rate of the same message rows into
//!    the same database, so the ratio shows what the store's logic costs.
//!
//! `OMNI_BENCH_IDENTITIES` sets the graph size; `OMNI_BENCH_OPS` the number
//! of measured operations per figure (default 3,000). PostgreSQL is
//! `OMNI_TEST_POSTGRES_URL` (default the local `test` database).

use std::sync::Arc;
use std::time::{Duration, Instant};

use omni_core::store::sql::SqlStore;
use omni_core::store::sql::testing::TestSchema;
use omni_core::{
    ConnectorId, IdentityClaim, IdentityKey, IdentityKind, InboundEvent, InboundMessage, IngestBatch, KvChanges,
    ProfileUpdate, Store, StoreOptions, Timestamp,
};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let identities = env_number("OMNI_BENCH_IDENTITIES", 1_000_000);
        let ops = env_number("OMNI_BENCH_OPS", 3_000);
        println!("# Omni store benchmark\n");
        println!(
            "{} identities loaded, {ops} measured operations per figure, one operation per transaction.\n",
            fmt(identities)
        );
        let dir = tempfile::tempdir().unwrap();
        let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let mut results = vec![run("SQLite", &sqlite_url, identities, ops).await];
        match TestSchema::create().await {
            Some(schema) => results.push(run("PostgreSQL", &schema.url, identities, ops).await),
            None => println!("(PostgreSQL unreachable: its rows are missing)\n"),
        }
        print_tables(&results);
    });
}

struct Figures {
    backend: &'static str,
    load: Duration,
    known: Stats,
    joining: Stats,
    append: Stats,
    append_concurrent: f64,
    raw: Stats,
}

#[derive(Clone, Copy)]
struct Stats {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn stats(mut latencies: Vec<Duration>, elapsed: Duration) -> Stats {
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1];
    Stats {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

fn fmt(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn person_uuid(i: usize) -> String {
    // Valid v7-shaped UUIDs, so the store can parse them.
    format!("00000000-0000-7000-8000-{i:012}")
}

/// Loads `identities` identities (4 per person, 3 trusted links each) with
/// multi-row inserts, bypassing the store's logic.
async fn load_graph(pool: &AnyPool, identities: usize) -> Duration {
    let started = Instant::now();
    let persons = identities / 4;
    let now = Timestamp::now().as_millis();
    const BATCH: usize = 500;
    let mut start = 0;
    while start < persons {
        let end = (start + BATCH).min(persons);
        let mut tx = pool.begin().await.unwrap();
        let values: Vec<String> = (start..end)
            .map(|i| format!("('{}', 'default', {now}, {now})", person_uuid(i)))
            .collect();
        sqlx::query(&format!(
            "INSERT INTO persons (id, workspace, created_at, updated_at) VALUES {}",
            values.join(",")
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
        let mut rows = Vec::new();
        for i in start..end {
            let p = person_uuid(i);
            rows.push(format!(
                "('default', 'channel_user', 'webchat:v{i}', '{p}', 0, NULL, 1, {now})"
            ));
            rows.push(format!(
                "('default', 'email', 'u{i}@example.com', '{p}', 1, 'webchat', 0, {now})"
            ));
            rows.push(format!(
                "('default', 'external_id', 'cust-{i}', '{p}', 1, 'webchat', 0, {now})"
            ));
            rows.push(format!(
                "('default', 'crm_id', 'hubspot:{i}', '{p}', 1, 'hubspot', 0, {now})"
            ));
        }
        let ids: Vec<i64> = sqlx::query_scalar(&format!(
            "INSERT INTO identities (workspace, kind, value, person_id, verified, verified_by, is_address, created_at)
             VALUES {} RETURNING id",
            rows.join(",")
        ))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        let mut links = Vec::new();
        for chunk in ids.chunks(4) {
            for to in &chunk[1..] {
                links.push(format!(
                    "('default', {}, {to}, 1, 'connector', 'webchat', 'fixture', {now})",
                    chunk[0]
                ));
            }
        }
        sqlx::query(&format!(
            "INSERT INTO links (workspace, from_identity, to_identity, trusted, source_kind, source, reason, created_at)
             VALUES {}",
            links.join(",")
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
        start = end;
    }
    started.elapsed()
}

fn claim(kind: IdentityKind, value: &str, verified: bool) -> IdentityClaim {
    IdentityClaim {
        key: IdentityKey::normalize(kind, value, "webchat").unwrap(),
        verified,
    }
}

fn batch(events: Vec<InboundEvent>) -> IngestBatch {
    IngestBatch {
        workspace: "default".into(),
        connector: ConnectorId::new("webchat").unwrap(),
        channel: "webchat".into(),
        events,
        kv: KvChanges::default(),
    }
}

/// Deterministic spread over the loaded persons.
fn pick(n: usize, persons: usize) -> usize {
    (n.wrapping_mul(2_654_435_761) ^ 0x5bd1e995) % persons
}

async fn timed<F, Fut>(ops: usize, mut op: F) -> Stats
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut latencies = Vec::with_capacity(ops);
    let started = Instant::now();
    for n in 0..ops {
        let t = Instant::now();
        op(n).await;
        latencies.push(t.elapsed());
    }
    stats(latencies, started.elapsed())
}

async fn run(backend: &'static str, url: &str, identities: usize, ops: usize) -> Figures {
    sqlx::any::install_default_drivers();
    let store = Arc::new(SqlStore::open(url, StoreOptions::default()).await.unwrap());
    let separator = if url.contains('?') { '&' } else { '?' };
    let raw_url = if url.starts_with("sqlite:") {
        format!("{url}{separator}mode=rwc")
    } else {
        url.to_owned()
    };
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&raw_url)
        .await
        .unwrap();
    if url.starts_with("sqlite:") {
        for pragma in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA busy_timeout = 10000",
        ] {
            sqlx::query(pragma).execute(&pool).await.unwrap();
        }
    }
    let load = load_graph(&pool, identities).await;
    if !url.starts_with("sqlite:") {
        sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    }
    let persons = identities / 4;

    // A known sender restating a verified identifier it already holds.
    let known = timed(ops, |n| {
        let store = store.clone();
        async move {
            let i = pick(n, persons);
            let profile = ProfileUpdate {
                subject: claim(IdentityKind::ChannelUser, &format!("v{i}"), false),
                display_name: None,
                claims: vec![claim(IdentityKind::Email, &format!("u{i}@example.com"), true)],
            };
            store.ingest(batch(vec![InboundEvent::Profile(profile)])).await.unwrap();
        }
    })
    .await;
    // A new sender (another device) whose verified id joins an existing person.
    let joining = timed(ops, |n| {
        let store = store.clone();
        async move {
            let i = pick(n + 7, persons);
            let profile = ProfileUpdate {
                subject: claim(IdentityKind::ChannelUser, &format!("device-{n}"), false),
                display_name: None,
                claims: vec![claim(IdentityKind::ExternalId, &format!("cust-{i}"), true)],
            };
            store.ingest(batch(vec![InboundEvent::Profile(profile)])).await.unwrap();
        }
    })
    .await;

    let message = |n: usize, sender: usize| InboundMessage {
        external_id: format!("bench-{n}"),
        sender: claim(IdentityKind::ChannelUser, &format!("v{sender}"), false),
        claims: Vec::new(),
        display_name: None,
        text: "Hello, where is my order? It was due yesterday.".into(),
        attachments: Vec::new(),
        thread_id: None,
        reply_to: None,
        references: Vec::new(),
        sent_at: None,
    };
    // Messages from a working set of 1,000 persons: conversations continue.
    let append = timed(ops, |n| {
        let store = store.clone();
        async move {
            let m = message(n, pick(n, persons.min(1000)));
            store.ingest(batch(vec![InboundEvent::Message(m)])).await.unwrap();
        }
    })
    .await;
    let concurrent_started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for n in (worker..ops).step_by(16) {
                let m = message(ops + n, pick(n, persons.min(1000)));
                store.ingest(batch(vec![InboundEvent::Message(m)])).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let append_concurrent = ops as f64 / concurrent_started.elapsed().as_secs_f64();

    // The same rows, inserted raw into the same conversation table.
    let conversation: String = sqlx::query_scalar("SELECT id FROM conversations LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    let person: String = sqlx::query_scalar("SELECT person_id FROM conversations LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    let identity: i64 = sqlx::query_scalar("SELECT MIN(id) FROM identities")
        .fetch_one(&pool)
        .await
        .unwrap();
    let raw = timed(ops, |n| {
        let (pool, conversation, person) = (pool.clone(), conversation.clone(), person.clone());
        async move {
            let now = Timestamp::now().as_millis();
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(
                "INSERT INTO messages (id, conversation_id, person_id, connector_id, channel, direction, kind, identity_id,
                                       text, external_id, status, created_at, status_at)
                 VALUES ($1, $2, $3, 'webchat', 'webchat', 'inbound', 'text', $4, $5, $6, 'received', $7, $7)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&conversation)
            .bind(&person)
            .bind(identity)
            .bind("Hello, where is my order? It was due yesterday.")
            .bind(format!("raw-{n}"))
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await;
    Figures {
        backend,
        load,
        known,
        joining,
        append,
        append_concurrent,
        raw,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn print_tables(results: &[Figures]) {
    println!("## Identity resolution\n");
    println!(
        "| database | loading the graph | known sender + verified claim it holds | new device joining a person by verified id |"
    );
    println!("|---|---|---|---|");
    for r in results {
        println!(
            "| {} | {:.1} s | {:.0}/s (p50 {}, p99 {}) | {:.0}/s (p50 {}, p99 {}) |",
            r.backend,
            r.load.as_secs_f64(),
            r.known.per_second,
            ms(r.known.p50),
            ms(r.known.p99),
            r.joining.per_second,
            ms(r.joining.p50),
            ms(r.joining.p99),
        );
    }
    println!("\n## Message append beside raw inserts\n");
    println!(
        "| database | raw insert, one row per transaction | message append (full ingest) | append / raw | append, 16 concurrent writers |"
    );
    println!("|---|---|---|---|---|");
    for r in results {
        println!(
            "| {} | {:.0}/s (p50 {}) | {:.0}/s (p50 {}, p99 {}) | {:.2} | {:.0}/s |",
            r.backend,
            r.raw.per_second,
            ms(r.raw.p50),
            r.append.per_second,
            ms(r.append.p50),
            ms(r.append.p99),
            r.append.per_second / r.raw.per_second,
            r.append_concurrent,
        );
    }
    println!();
}
