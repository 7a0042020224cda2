//! Crash safety: steady webhook and reply traffic at one host on SQLite,
//! SIGKILL at random points several times, restart on the same data. Every
//! webhook that got a 2xx is stored exactly once, every reply that got a
//! 202 is eventually sent, and LINE executes each exactly once (the retry
//! key the connector derives from the message id makes a resend after a
//! crash harmless).
//!
//! The kill points come from a seed printed at the start; set
//! `OMNI_CRASH_SEED` to replay a run.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use omni_tests::line::{self, FakeLine};
use omni_tests::process::OmniProcess;

use crate::scale_out::{USERS, conversations_by_user, deliver_event, message_id, reply_to, settle_and_check, user};

/// Rounds of load that end in a SIGKILL.
const KILLS: usize = 3;

/// A small deterministic generator for the kill points.
struct Rng(u64);

impl Rng {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

#[derive(Default)]
struct Traffic {
    /// Events the host answered 2xx.
    accepted: Mutex<Vec<usize>>,
    /// Events refused or cut off by the kill, to redeliver.
    unanswered: Mutex<Vec<usize>>,
    /// Replies the host answered 202.
    replies: Mutex<Vec<String>>,
}

/// Sends events from three clients and a reply every 50 ms to the host at
/// `base` until `stop`, recording what the host accepted.
async fn load(
    round: usize,
    base: String,
    conversations: Vec<String>,
    next: Arc<AtomicUsize>,
    traffic: Arc<Traffic>,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::new();
    let mut senders = Vec::new();
    for _ in 0..3 {
        let (client, base, next, traffic, stop) = (
            client.clone(),
            base.clone(),
            next.clone(),
            traffic.clone(),
            stop.clone(),
        );
        senders.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let ok = line::post_event(&client, &base, &user(i), &message_id(i), &format!("inbound {i}")).await;
                let list = if ok { &traffic.accepted } else { &traffic.unanswered };
                list.lock().unwrap().push(i);
            }
        }));
    }
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) && !conversations.is_empty() {
        let text = format!("reply {round}-{n}");
        if reply_to(&client, &base, &conversations[n % conversations.len()], &text).await {
            traffic.replies.lock().unwrap().push(text);
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for sender in senders {
        let _ = sender.await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_points_loses_no_accepted_webhook_and_sends_each_reply_once() {
    let seed = std::env::var("OMNI_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64 | 1)
                .unwrap_or(1)
        });
    eprintln!("crash test seed: OMNI_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let line = FakeLine::start().await;
    line.set_latency(Duration::from_millis(100));
    let config = format!("[delivery]\nlease = \"3s\"\n\n{}", line::plugin_entry(&line));
    let dir = tempfile::tempdir().unwrap();
    let traffic = Arc::new(Traffic::default());
    let next = Arc::new(AtomicUsize::new(0));

    // One event per user first, so there are conversations to reply to.
    let mut omni = OmniProcess::start_in(dir.path(), &config).await;
    for _ in 0..USERS {
        let i = next.fetch_add(1, Ordering::SeqCst);
        assert!(deliver_event(&omni, i).await, "event {i} refused");
        traffic.accepted.lock().unwrap().push(i);
    }
    let conversations = conversations_by_user(&omni).await;

    for round in 0..KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let running = tokio::spawn(load(
            round,
            omni.base.clone(),
            conversations.clone(),
            next.clone(),
            traffic.clone(),
            stop.clone(),
        ));
        let after = Duration::from_millis(rng.between(300, 1500));
        tokio::time::sleep(after).await;
        omni.kill();
        stop.store(true, Ordering::SeqCst);
        running.await.unwrap();
        eprintln!(
            "round {round}: killed after {after:?}; {} events accepted, {} unanswered, {} replies so far",
            traffic.accepted.lock().unwrap().len(),
            traffic.unanswered.lock().unwrap().len(),
            traffic.replies.lock().unwrap().len()
        );
        omni = OmniProcess::start_in(dir.path(), &config).await;
    }

    // LINE redelivers what got no answer; whatever the host had stored of
    // those before dying must not appear twice.
    let unanswered = std::mem::take(&mut *traffic.unanswered.lock().unwrap());
    for i in unanswered {
        assert!(deliver_event(&omni, i).await, "event {i} refused");
        traffic.accepted.lock().unwrap().push(i);
    }
    let accepted = traffic.accepted.lock().unwrap().clone();
    let replies = traffic.replies.lock().unwrap().clone();
    assert!(accepted.len() > USERS && !replies.is_empty(), "the load ran");
    settle_and_check(&omni, &line, &accepted, &replies).await;
    eprintln!(
        "{} webhooks stored once, {} replies executed once; {} resends refused by their retry key",
        accepted.len(),
        replies.len(),
        line.repeats()
    );
}
