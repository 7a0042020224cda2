//! Outbound path: the dispatcher that sends queued replies through their
//! connector, retrying with backoff and dead-lettering what cannot be sent.
//!
//! Replies are claimed from the store's outbox with a lease, oldest first
//! and one at a time per conversation, so a conversation's replies arrive in
//! order. A crash mid-send leaves the lease to expire and the reply is sent
//! again; plugins pass the message id to providers as an idempotency key.
//! Each connector instance's own concurrency and rate ([`limits`]) are
//! respected by leaving its rows in the outbox while it is saturated.

pub mod limits;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use omni_core::{OutboxJob, SendOutcome, Store, StoreError, Timestamp};
use rand::Rng;
use tokio::sync::{Notify, Semaphore};

use crate::config::DeliveryConfig;
use crate::connector::Registry;
use crate::contention::{KV_ATTEMPTS, RetryLanes};
use crate::events::{wit_attachment, wit_identity_kind};
use crate::runtime::bindings::wit;
use crate::shutdown::Shutdown;
use crate::telemetry::Telemetry;
use limits::SendLimits;

/// How often the dispatcher looks for due rows even without a wake-up.
const IDLE_POLL: Duration = Duration::from_secs(5);

/// Sends queued replies.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    config: DeliveryConfig,
    wake: Arc<Notify>,
    lanes: Arc<RetryLanes>,
    telemetry: Arc<Telemetry>,
    /// Shared with the reloader, which changes it when the config does.
    limits: Arc<RwLock<SendLimits>>,
}

impl Dispatcher {
    /// A dispatcher; `wake` is notified whenever a reply is queued.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        config: DeliveryConfig,
        wake: Arc<Notify>,
        lanes: Arc<RetryLanes>,
        telemetry: Arc<Telemetry>,
        limits: Arc<RwLock<SendLimits>>,
    ) -> Self {
        Self {
            store,
            registry,
            config,
            wake,
            lanes,
            telemetry,
            limits,
        }
    }

    /// Runs until `stop` is set, then waits for sends in flight.
    pub async fn run(self, stop: Shutdown) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(this.config.concurrency));
        while !stop.is_requested() {
            let free = slots.available_permits() as u32;
            let blocked = this.limits().blocked(Instant::now());
            let mut started = 0;
            let mut claimed = 0;
            if free > 0 {
                let jobs = match this
                    .store
                    .claim_outbox(Timestamp::now(), this.lease(), free, &blocked.connectors)
                    .await
                {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::error!("cannot read the outbox: {e}");
                        Vec::new()
                    }
                };
                claimed = jobs.len();
                for job in jobs {
                    // One claim may hold more rows of a connector than it may send now.
                    let Some(limit) = this.limits().try_acquire(&job.connector, Instant::now()) else {
                        if let Err(e) = this.store.release_outbox(&job).await {
                            tracing::warn!(message = %job.message_id, "cannot give back a claim; its lease will expire: {e}");
                        }
                        continue;
                    };
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        break;
                    };
                    started += 1;
                    let this = this.clone();
                    tokio::spawn(async move {
                        this.deliver(job).await;
                        drop((permit, limit));
                        // A finished send may unblock the next reply of its
                        // conversation, or its connector.
                        this.wake.notify_one();
                    });
                }
            }
            if started > 0 && claimed as u32 == free {
                continue;
            }
            // All slots busy: a finishing send wakes us. Otherwise sleep until
            // the next row is due (a retry, an expiring lease, a connector's
            // next token) or a wake-up.
            let wait = if free == 0 {
                IDLE_POLL
            } else {
                let blocked = this.limits().blocked(Instant::now());
                let token_wait = blocked
                    .next_token
                    .map(|at| at.saturating_duration_since(Instant::now()))
                    .unwrap_or(IDLE_POLL);
                let due_wait = match this.store.next_outbox_due(&blocked.connectors).await {
                    Ok(Some(due)) => {
                        let millis =
                            (due.as_millis() - Timestamp::now().as_millis()).clamp(0, IDLE_POLL.as_millis() as i64);
                        Duration::from_millis(millis as u64)
                    }
                    _ => IDLE_POLL,
                };
                token_wait.min(due_wait)
            };
            tokio::select! {
                _ = this.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait() => {}
            }
        }
        // Let sends in flight finish so their results are recorded.
        let _ = slots.acquire_many(this.config.concurrency as u32).await;
    }

    fn limits(&self) -> std::sync::RwLockReadGuard<'_, SendLimits> {
        self.limits.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A claim outlives the slowest call, so a live send is never re-claimed
    /// (the config checks a configured lease against the plugins' timeouts).
    fn lease(&self) -> Duration {
        self.config
            .lease
            .max(self.longest_timeout() * crate::config::LEASE_TIMEOUTS)
    }

    fn longest_timeout(&self) -> Duration {
        self.registry
            .ids()
            .iter()
            .filter_map(|id| self.registry.get(id))
            .map(|c| c.limits().timeout)
            .max()
            .unwrap_or(Duration::from_secs(2))
    }

    async fn deliver(&self, job: OutboxJob) {
        let mut _lane = None;
        for _ in 0..KV_ATTEMPTS {
            let (outcome, kv) = self.attempt(&job).await;
            let failed = matches!(outcome, SendOutcome::Failed { .. });
            let result = match outcome {
                SendOutcome::Sent { .. } => "sent",
                SendOutcome::Retry { .. } => "retry",
                SendOutcome::Failed { .. } => "failed",
            };
            match self.store.finish_outbox(&job, outcome, kv).await {
                Ok(()) => {
                    self.telemetry.delivery(job.connector.as_str(), result);
                    if failed {
                        tracing::warn!(message = %job.message_id, connector = %job.connector, "reply dead-lettered");
                    }
                    return;
                }
                Err(StoreError::KvConflict { .. }) => {
                    if _lane.is_none() {
                        _lane = Some(self.lanes.enter(&job.connector).await);
                    }
                }
                Err(StoreError::LeaseLost(_)) => {
                    tracing::warn!(message = %job.message_id, "send finished after its lease expired; another attempt owns it");
                    return;
                }
                Err(e) => {
                    // The lease expires and the reply is tried again.
                    tracing::error!(message = %job.message_id, "cannot record the send result: {e}");
                    return;
                }
            }
        }
        tracing::warn!(message = %job.message_id, "key-value conflicts kept the send from being recorded; it will be retried");
    }

    async fn attempt(&self, job: &OutboxJob) -> (SendOutcome, omni_core::KvChanges) {
        let Some(connector) = self.registry.get(&job.connector) else {
            let error = format!("connector {} is not configured", job.connector);
            return (self.retry_or_fail(job, error, None), Default::default());
        };
        let message = wit::OutboundMessage {
            id: job.message_id.to_string(),
            conversation_id: job.conversation_id.to_string(),
            text: job.text.clone(),
            attachments: job.attachments.iter().map(wit_attachment).collect(),
            reply_to: job.reply_to.clone(),
            thread_id: job.thread_id.clone(),
        };
        let recipient = wit::Identity {
            kind: wit_identity_kind(job.recipient.kind),
            value: job.recipient.channel_value().to_owned(),
            verified: true,
        };
        let started = std::time::Instant::now();
        let sent = connector.send(message, recipient).await;
        self.telemetry
            .call_time(job.connector.as_str(), "send", started.elapsed());
        match sent {
            Ok(output) => {
                let outcome = match output.value {
                    Ok(receipt) => SendOutcome::Sent {
                        external_id: receipt.external_id,
                        status: match receipt.state {
                            wit::DeliveryState::Sent => omni_core::MessageStatus::Sent,
                            wit::DeliveryState::Delivered => omni_core::MessageStatus::Delivered,
                            wit::DeliveryState::Read => omni_core::MessageStatus::Read,
                            wit::DeliveryState::Failed => omni_core::MessageStatus::Failed,
                        },
                    },
                    Err(wit::SendError::Retryable(retry)) => {
                        self.retry_or_fail(job, retry.message, retry.after_ms.map(Duration::from_millis))
                    }
                    Err(wit::SendError::Permanent(error)) => SendOutcome::Failed { error },
                };
                (outcome, output.kv)
            }
            Err(error) => {
                self.telemetry.plugin_failure(job.connector.as_str(), error.code());
                tracing::warn!(connector = %job.connector, message = %job.message_id, code = error.code(), "send failed: {error}");
                (self.retry_or_fail(job, error.to_string(), None), Default::default())
            }
        }
    }

    fn retry_or_fail(&self, job: &OutboxJob, error: String, hint: Option<Duration>) -> SendOutcome {
        if job.attempt >= self.config.max_attempts {
            return SendOutcome::Failed {
                error: format!("gave up after {} attempts: {error}", job.attempt),
            };
        }
        let delay = backoff(&self.config, job.attempt).max(hint.unwrap_or_default());
        SendOutcome::Retry {
            error,
            at: Timestamp::now().plus(delay),
        }
    }
}

/// Exponential backoff with jitter: `first_retry × 2^(attempt-1)`, capped at
/// `max_retry`, then a random point in its upper half so retries of many
/// messages spread out.
pub fn backoff(config: &DeliveryConfig, attempt: u32) -> Duration {
    let exp = config
        .first_retry
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(config.max_retry);
    let half = capped / 2;
    half + rand::rng().random_range(Duration::ZERO..=half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let config = DeliveryConfig {
            max_attempts: 8,
            concurrency: 1,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(60),
            lease: Duration::from_secs(60),
        };
        for _ in 0..50 {
            let first = backoff(&config, 1);
            assert!(
                first >= Duration::from_millis(500) && first <= Duration::from_secs(1),
                "{first:?}"
            );
            let fourth = backoff(&config, 4);
            assert!(
                fourth >= Duration::from_secs(4) && fourth <= Duration::from_secs(8),
                "{fourth:?}"
            );
            let late = backoff(&config, 30);
            assert!(
                late >= Duration::from_secs(30) && late <= Duration::from_secs(60),
                "{late:?}"
            );
        }
    }
}
