//! Subscribers: every integration instance follows the event log with a
//! durable cursor in the store, one task per instance.
//!
//! Delivery is at least once and in log order per person. An event the
//! integration fails on is parked with its person and retried with backoff;
//! that person's later events park behind it while other persons move on;
//! after `max_attempts` (or a permanent error) it becomes a dead letter an
//! operator can retry. When several persons' events fail in a row the
//! service is probably down: the subscriber pauses with backoff instead of
//! parking the whole log, and catches up in order once it answers again.
//! A subscriber only reads the log and writes its own rows, so a slow or
//! failing one never holds up ingestion or the other subscribers. A lease
//! on the cursor keeps two hosts sharing a database from delivering the
//! same subscriber's events at once.

pub mod view;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use omni_core::{
    ConnectorId, IdentityKey, IdentityKind, IngestBatch, LoggedEvent, NewParked, ParkedOutcome, ParkedState, Store,
    StoreError, Timestamp,
};
use rand::Rng;

use crate::config::SubscribeConfig;
use crate::connector::Connector;
use crate::contention::KV_ATTEMPTS;
use crate::log_watch::LogWatch;
use crate::runtime::bindings::wit;
use crate::shutdown::Shutdown;
use crate::telemetry::Telemetry;

/// How long a host holds a subscriber's cursor without renewing it.
const LEASE: Duration = Duration::from_secs(30);
/// Events read from the log per step.
const BATCH: u32 = 100;
/// Parked events retried per step.
const RETRY_BATCH: u32 = 20;
/// Retryable failures in a row (of different persons) that pause the subscriber.
const OUTAGE_THRESHOLD: u32 = 3;
/// Most record ids one event may link.
const MAX_RECORDS: usize = 10;
/// Longest record id accepted from an integration.
const MAX_RECORD_BYTES: usize = 255;

/// What became of delivering one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The integration took it.
    Delivered,
    /// Try again later.
    Retry {
        /// Why it failed.
        error: String,
        /// The service's hint.
        after: Option<Duration>,
    },
    /// Retrying cannot help.
    Dead {
        /// Why.
        error: String,
    },
}

/// One integration instance following the log.
pub struct Follower {
    connector: Arc<dyn Connector>,
    config: SubscribeConfig,
    store: Arc<dyn Store>,
    watch: Arc<LogWatch>,
    telemetry: Arc<Telemetry>,
    /// Who holds the lease: unique per host process.
    holder: String,
    /// Consecutive outage pauses, for their backoff.
    pauses: u32,
}

/// What one step did.
enum Step {
    /// Work was done; look again at once.
    Busy,
    /// Nothing to do until the log moves past this position or a retry is due.
    Idle(i64),
    /// The service seems down: wait this long.
    Paused(Duration),
    /// Another host holds the lease.
    Elsewhere,
}

impl Follower {
    /// A follower for an integration instance; `holder` names this host.
    pub fn new(
        connector: Arc<dyn Connector>,
        config: SubscribeConfig,
        store: Arc<dyn Store>,
        watch: Arc<LogWatch>,
        telemetry: Arc<Telemetry>,
        holder: String,
    ) -> Self {
        Self {
            connector,
            config,
            store,
            watch,
            telemetry,
            holder,
            pauses: 0,
        }
    }

    fn name(&self) -> &str {
        self.connector.id().as_str()
    }

    /// Delivers events until `stop`, then gives the lease up.
    pub async fn run(mut self, stop: Shutdown) {
        while !stop.is_requested() {
            let wait = match self.step().await {
                Ok(Step::Busy) => continue,
                Ok(Step::Idle(cursor)) => {
                    let next_due = self.store.parked_next_due(self.name()).await.ok().flatten();
                    let until_due = next_due
                        .map(|at| Duration::from_millis((at.as_millis() - Timestamp::now().as_millis()).max(0) as u64))
                        .unwrap_or(LEASE / 3)
                        .min(LEASE / 3);
                    tokio::select! {
                        _ = self.watch.wait_beyond(cursor, until_due) => {}
                        _ = stop.wait() => {}
                    }
                    continue;
                }
                Ok(Step::Paused(pause)) => pause,
                Ok(Step::Elsewhere) => LEASE / 3,
                Err(e) => {
                    tracing::warn!(subscriber = self.name(), "subscriber step failed: {e}");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait() => {}
            }
        }
        if let Err(e) = self.store.release_subscriber(self.name(), &self.holder).await {
            tracing::debug!(subscriber = self.name(), "could not release the lease: {e}");
        }
    }

    fn lease_until(&self) -> Timestamp {
        Timestamp::from_millis(Timestamp::now().as_millis() + LEASE.as_millis() as i64)
    }

    async fn step(&mut self) -> Result<Step, StoreError> {
        let name = self.name().to_owned();
        let Some(cursor) = self
            .store
            .acquire_subscriber(&name, self.config.start, &self.holder, self.lease_until())
            .await?
        else {
            return Ok(Step::Elsewhere);
        };
        let mut worked = false;
        let mut failures = 0;

        // Parked events first: they are older than anything after the cursor.
        loop {
            let due = self.store.parked_due(&name, RETRY_BATCH).await?;
            if due.is_empty() {
                break;
            }
            for parked in due {
                worked = true;
                let event = self.store.events_at(&[parked.position]).await?.pop();
                let delivery = match &event {
                    Some(event) => self.deliver(event).await,
                    // The log never loses events; nothing left to deliver.
                    None => Delivery::Delivered,
                };
                let outcome = match delivery {
                    Delivery::Delivered => {
                        failures = 0;
                        ParkedOutcome::Delivered
                    }
                    Delivery::Retry { error, .. } if parked.attempts + 1 >= self.config.max_attempts => {
                        ParkedOutcome::Dead {
                            error: format!("gave up after {} attempts: {error}", parked.attempts + 1),
                        }
                    }
                    Delivery::Retry { error, after } => {
                        failures += 1;
                        ParkedOutcome::Retry {
                            at: self.retry_at(parked.attempts + 1, after),
                            error,
                        }
                    }
                    Delivery::Dead { error } => ParkedOutcome::Dead { error },
                };
                self.count(&outcome);
                self.store.finish_parked(parked.id, outcome).await?;
                if failures >= OUTAGE_THRESHOLD {
                    return Ok(Step::Paused(self.pause()));
                }
            }
        }

        let batch = self.store.events_after(cursor, BATCH).await?;
        if batch.is_empty() {
            self.pauses = 0;
            return Ok(if worked { Step::Busy } else { Step::Idle(cursor) });
        }
        let mut waiting: HashSet<String> = self.store.waiting_persons(&name).await?.into_iter().collect();
        let mut parked = Vec::new();
        let mut to = cursor;
        let mut paused = None;
        for event in &batch {
            to = event.position;
            if event.workspace != self.connector.workspace() || !self.config.wants(&event.kind) {
                continue;
            }
            let person = event.person_key();
            if waiting.contains(&person) {
                // In order per person: behind the earlier event that waits.
                self.telemetry.subscriber_event(&name, "parked");
                parked.push(NewParked {
                    position: event.position,
                    person_key: person,
                    attempts: 0,
                    next_attempt_at: Timestamp::now(),
                    error: None,
                    state: ParkedState::Waiting,
                });
                continue;
            }
            match self.deliver(event).await {
                Delivery::Delivered => {
                    self.telemetry.subscriber_event(&name, "delivered");
                    failures = 0;
                }
                Delivery::Retry { error, after } => {
                    self.telemetry.subscriber_event(&name, "retry");
                    failures += 1;
                    let single_attempt = self.config.max_attempts <= 1;
                    parked.push(NewParked {
                        position: event.position,
                        person_key: person.clone(),
                        attempts: 1,
                        next_attempt_at: self.retry_at(1, after),
                        error: Some(error),
                        state: if single_attempt {
                            ParkedState::Dead
                        } else {
                            ParkedState::Waiting
                        },
                    });
                    waiting.insert(person);
                    if failures >= OUTAGE_THRESHOLD {
                        paused = Some(self.pause());
                        break;
                    }
                }
                Delivery::Dead { error } => {
                    self.telemetry.subscriber_event(&name, "dead");
                    parked.push(NewParked {
                        position: event.position,
                        person_key: person,
                        attempts: 1,
                        next_attempt_at: Timestamp::now(),
                        error: Some(error),
                        state: ParkedState::Dead,
                    });
                }
            }
        }
        match self
            .store
            .advance_subscriber(&name, &self.holder, cursor, to, parked, self.lease_until())
            .await
        {
            Ok(()) => {}
            // A replay or another host moved the cursor: start over from it.
            Err(StoreError::SubscriberMoved(_)) => return Ok(Step::Busy),
            Err(e) => return Err(e),
        }
        match paused {
            Some(pause) => Ok(Step::Paused(pause)),
            None => {
                self.pauses = 0;
                Ok(Step::Busy)
            }
        }
    }

    fn count(&self, outcome: &ParkedOutcome) {
        let result = match outcome {
            ParkedOutcome::Delivered => "delivered",
            ParkedOutcome::Retry { .. } => "retry",
            ParkedOutcome::Dead { .. } => "dead",
        };
        self.telemetry.subscriber_event(self.name(), result);
    }

    /// The backoff of the whole subscriber while its service seems down.
    fn pause(&mut self) -> Duration {
        self.pauses += 1;
        let pause = backoff(&self.config, self.pauses, None);
        tracing::warn!(
            subscriber = self.name(),
            pause_ms = pause.as_millis() as u64,
            "several events failed in a row; pausing delivery"
        );
        pause
    }

    fn retry_at(&self, attempt: u32, hint: Option<Duration>) -> Timestamp {
        let delay = backoff(&self.config, attempt, hint);
        Timestamp::from_millis(Timestamp::now().as_millis() + delay.as_millis() as i64)
    }

    /// Runs `on-event` for one logged event, stores its key-value writes
    /// and links the records it names to the person.
    pub async fn deliver(&self, event: &LoggedEvent) -> Delivery {
        let Some(integration) = self.connector.integration() else {
            return Delivery::Dead {
                error: "not an integration".into(),
            };
        };
        let id = self.connector.id();
        let domain = match view::domain_event(self.store.as_ref(), id, event).await {
            Ok(domain) => domain,
            Err(e) => {
                return Delivery::Retry {
                    error: format!("cannot read the event's person: {e}"),
                    after: None,
                };
            }
        };
        for _ in 0..KV_ATTEMPTS {
            let started = std::time::Instant::now();
            let output = integration.on_event(domain.clone()).await;
            self.telemetry.call_time(id.as_str(), "on-event", started.elapsed());
            let output = match output {
                Ok(output) => output,
                Err(e) => {
                    self.telemetry.plugin_failure(id.as_str(), e.code());
                    return Delivery::Retry {
                        error: e.to_string(),
                        after: None,
                    };
                }
            };
            let outcome = match output.value {
                Ok(outcome) => outcome,
                Err(wit::IntegrationError::Retryable(r)) => {
                    return Delivery::Retry {
                        error: r.message.chars().take(1000).collect(),
                        after: r.after_ms.map(Duration::from_millis),
                    };
                }
                Err(wit::IntegrationError::Permanent(m)) => {
                    return Delivery::Dead {
                        error: m.chars().take(1000).collect(),
                    };
                }
            };
            if !output.kv.writes.is_empty() {
                let batch = IngestBatch {
                    workspace: self.connector.workspace().to_owned(),
                    connector: id.clone(),
                    channel: self.connector.manifest().channel.clone(),
                    events: Vec::new(),
                    kv: output.kv,
                };
                match self.store.ingest(batch).await {
                    Ok(_) => {}
                    Err(StoreError::KvConflict { .. }) => continue,
                    Err(e) => {
                        return Delivery::Retry {
                            error: format!("cannot store the integration's state: {e}"),
                            after: None,
                        };
                    }
                }
            }
            if let Some(person) = event.person_id {
                self.link_records(id, person, outcome.records).await;
            }
            return Delivery::Delivered;
        }
        Delivery::Retry {
            error: "the integration's state kept changing under it".into(),
            after: None,
        }
    }

    async fn link_records(&self, id: &ConnectorId, person: omni_core::PersonId, records: Vec<String>) {
        for record in records.into_iter().take(MAX_RECORDS) {
            let record = record.trim();
            if record.is_empty() || record.len() > MAX_RECORD_BYTES || record.chars().any(char::is_control) {
                tracing::warn!(subscriber = %id, "ignoring an unusable record id from the integration");
                continue;
            }
            let key = IdentityKey::from_normalized(IdentityKind::CrmId, format!("{}{record}", view::record_prefix(id)));
            if let Err(e) = self.store.link_record(person, key, id.as_str()).await {
                tracing::warn!(subscriber = %id, %person, "cannot link record {record}: {e}");
            }
        }
    }
}

/// Exponential backoff with jitter, or the service's hint, within `max_retry`.
fn backoff(config: &SubscribeConfig, attempt: u32, hint: Option<Duration>) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let base = config.first_retry.saturating_mul(1 << exponent).min(config.max_retry);
    let jittered = base.mul_f64(rand::rng().random_range(0.8..1.2)).min(config.max_retry);
    match hint {
        Some(hint) => hint.min(config.max_retry).max(jittered / 4),
        None => jittered,
    }
}

/// Starts the follower of one integration until `stop`; `holder` names this
/// host in the subscriber's lease.
pub fn spawn(
    connector: Arc<dyn Connector>,
    config: SubscribeConfig,
    store: Arc<dyn Store>,
    watch: Arc<LogWatch>,
    telemetry: Arc<Telemetry>,
    holder: String,
    stop: Shutdown,
) -> tokio::task::JoinHandle<()> {
    let follower = Follower::new(connector, config, store, watch, telemetry, holder);
    tokio::spawn(follower.run(stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_honours_hints() {
        let config = SubscribeConfig {
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(60),
            ..SubscribeConfig::default()
        };
        let first = backoff(&config, 1, None);
        assert!(
            first >= Duration::from_millis(800) && first <= Duration::from_millis(1200),
            "{first:?}"
        );
        let fourth = backoff(&config, 4, None);
        assert!(
            fourth >= Duration::from_millis(6400) && fourth <= Duration::from_millis(9600),
            "{fourth:?}"
        );
        assert!(backoff(&config, 30, None) <= Duration::from_secs(60));
        assert_eq!(
            backoff(&config, 1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            backoff(&config, 1, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn patterns_select_event_kinds() {
        let config = SubscribeConfig {
            events: vec!["person.*".into(), "conversation.resolved".into()],
            ..SubscribeConfig::default()
        };
        assert!(config.wants("person.merged"));
        assert!(config.wants("conversation.resolved"));
        assert!(!config.wants("conversation.opened"));
        assert!(!config.wants("message.received"));
        assert!(SubscribeConfig::default().wants("integration.checkout.abandoned"));
    }
}
