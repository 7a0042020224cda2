//! Admission control for webhooks: what keeps a flood from taking the host
//! down.
//!
//! Three gates, checked before a webhook's body reaches a plugin: a token
//! bucket per source address (`[server] per_source`), a token bucket per
//! connector instance (`[plugins.inbound]`), and a bounded number of
//! webhooks in progress (`[server] max_in_flight`) with a bounded number
//! waiting for a slot (`max_queued`, each for at most `queue_wait`). A
//! request refused at a gate is answered at once — 429 (rate) or 503
//! (overload), both with `Retry-After` — so memory stays bounded however
//! hard the host is pushed, and a provider's own retry brings the webhook
//! back later.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use omni_core::ConnectorId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::rate::TokenBucket;

/// Source addresses remembered at most; idle ones are forgotten first.
const MAX_SOURCES: usize = 10_000;

/// A rate with a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: u32,
    /// Requests allowed at once after a quiet spell.
    pub burst: u32,
}

/// `[server]` admission settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// Webhooks processed at once.
    pub max_in_flight: usize,
    /// Webhooks waiting for a slot; beyond this they get 503 at once.
    pub max_queued: usize,
    /// Longest wait for a slot before 503.
    pub queue_wait: Duration,
    /// Per source address.
    pub per_source: Option<Rate>,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_queued: 1024,
            queue_wait: Duration::from_secs(2),
            per_source: None,
        }
    }
}

/// Why a webhook was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A rate limit: 429.
    RateLimited {
        /// Whose limit.
        whose: String,
        /// When to come back.
        retry_after: Duration,
    },
    /// Too much work in progress: 503.
    Overloaded {
        /// When to come back.
        retry_after: Duration,
    },
}

impl Refusal {
    /// The stable code, for errors and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::Overloaded { .. } => "overloaded",
        }
    }
}

/// Holds a webhook's slot while it is processed.
pub struct Admitted {
    _slot: OwnedSemaphorePermit,
}

/// The gates.
pub struct Admission {
    config: AdmissionConfig,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    sources: Mutex<HashMap<IpAddr, TokenBucket>>,
    connectors: RwLock<HashMap<ConnectorId, Mutex<(Rate, TokenBucket)>>>,
}

impl Admission {
    /// Gates for `config` and the connectors' `[plugins.inbound]` rates.
    pub fn new<'a>(
        config: AdmissionConfig,
        connectors: impl IntoIterator<Item = (&'a ConnectorId, Option<Rate>)>,
    ) -> Self {
        let admission = Self {
            config,
            slots: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            waiting: AtomicUsize::new(0),
            sources: Mutex::new(HashMap::new()),
            connectors: RwLock::new(HashMap::new()),
        };
        admission.reconfigure(connectors);
        admission
    }

    /// Applies reloaded `[plugins.inbound]` rates; an unchanged rate keeps its tokens.
    pub fn reconfigure<'a>(&self, connectors: impl IntoIterator<Item = (&'a ConnectorId, Option<Rate>)>) {
        let now = Instant::now();
        let mut map = self.connectors.write().unwrap_or_else(|e| e.into_inner());
        let mut previous = std::mem::take(&mut *map);
        for (id, rate) in connectors {
            let Some(rate) = rate else { continue };
            let entry = match previous.remove(id) {
                Some(entry) if entry.lock().unwrap_or_else(|e| e.into_inner()).0 == rate => entry,
                _ => Mutex::new((rate, TokenBucket::new(rate.per_second, rate.burst.max(1), now))),
            };
            map.insert(id.clone(), entry);
        }
    }

    /// Lets a webhook from `source` to `connector` in, or says why not.
    pub async fn admit(&self, source: Option<IpAddr>, connector: &ConnectorId) -> Result<Admitted, Refusal> {
        let now = Instant::now();
        if let (Some(rate), Some(ip)) = (self.config.per_source, source) {
            let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
            if sources.len() >= MAX_SOURCES && !sources.contains_key(&ip) {
                sources.retain(|_, bucket| !bucket.is_full(now));
            }
            if sources.len() >= MAX_SOURCES && !sources.contains_key(&ip) {
                // Every remembered source is active: this is a flood from many
                // addresses, which the in-flight bound below handles.
            } else {
                let bucket = sources
                    .entry(ip)
                    .or_insert_with(|| TokenBucket::new(rate.per_second, rate.burst.max(1), now));
                if !bucket.try_take(now) {
                    return Err(Refusal::RateLimited {
                        whose: format!("source {ip}"),
                        retry_after: wait_until(bucket.next_token(now), now),
                    });
                }
            }
        }
        if let Some(entry) = self.connectors.read().unwrap_or_else(|e| e.into_inner()).get(connector) {
            let mut entry = entry.lock().unwrap_or_else(|e| e.into_inner());
            if !entry.1.try_take(now) {
                return Err(Refusal::RateLimited {
                    whose: format!("connector {connector}"),
                    retry_after: wait_until(entry.1.next_token(now), now),
                });
            }
        }
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return Ok(Admitted { _slot: slot });
        }
        // Wait for a slot, but only so many at once and not for long.
        let overloaded = Refusal::Overloaded {
            retry_after: Duration::from_secs(1),
        };
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.config.max_queued {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(overloaded);
        }
        let slot = tokio::time::timeout(self.config.queue_wait, self.slots.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match slot {
            Ok(Ok(slot)) => Ok(Admitted { _slot: slot }),
            _ => Err(overloaded),
        }
    }

    /// Webhooks being processed now.
    pub fn in_flight(&self) -> usize {
        self.config.max_in_flight.max(1) - self.slots.available_permits()
    }
}

fn wait_until(next: Option<Instant>, now: Instant) -> Duration {
    next.map(|at| at.saturating_duration_since(now))
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> ConnectorId {
        ConnectorId::new(name).unwrap()
    }

    #[tokio::test]
    async fn a_source_over_its_rate_is_told_when_to_come_back() {
        let config = AdmissionConfig {
            per_source: Some(Rate {
                per_second: 1,
                burst: 2,
            }),
            ..AdmissionConfig::default()
        };
        let admission = Admission::new(config, []);
        let ann: IpAddr = "192.0.2.1".parse().unwrap();
        let bob: IpAddr = "192.0.2.2".parse().unwrap();
        let chat = id("webchat");
        assert!(admission.admit(Some(ann), &chat).await.is_ok());
        assert!(admission.admit(Some(ann), &chat).await.is_ok());
        match admission.admit(Some(ann), &chat).await {
            Err(Refusal::RateLimited { whose, retry_after }) => {
                assert_eq!(whose, "source 192.0.2.1");
                assert!(retry_after > Duration::from_millis(900) && retry_after <= Duration::from_secs(1));
            }
            other => panic!("{:?}", other.err()),
        }
        assert!(
            admission.admit(Some(bob), &chat).await.is_ok(),
            "other sources are not affected"
        );
    }

    #[tokio::test]
    async fn a_connector_over_its_rate_is_refused_and_others_are_not() {
        let sms = id("sms");
        let chat = id("webchat");
        let admission = Admission::new(
            AdmissionConfig::default(),
            [
                (
                    &sms,
                    Some(Rate {
                        per_second: 5,
                        burst: 1,
                    }),
                ),
                (&chat, None),
            ],
        );
        assert!(admission.admit(None, &sms).await.is_ok());
        assert!(matches!(
            admission.admit(None, &sms).await,
            Err(Refusal::RateLimited { .. })
        ));
        assert!(admission.admit(None, &chat).await.is_ok());
    }

    #[tokio::test]
    async fn beyond_the_slots_and_the_queue_requests_are_shed_at_once() {
        let config = AdmissionConfig {
            max_in_flight: 2,
            max_queued: 1,
            queue_wait: Duration::from_millis(50),
            per_source: None,
        };
        let admission = Arc::new(Admission::new(config, []));
        let chat = id("webchat");
        let first = admission.admit(None, &chat).await.unwrap();
        let _second = admission.admit(None, &chat).await.unwrap();
        assert_eq!(admission.in_flight(), 2);
        // One may wait; it gets the slot the first frees.
        let waiter = {
            let (admission, chat) = (admission.clone(), chat.clone());
            tokio::spawn(async move { admission.admit(None, &chat).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        // The queue is full: the next is refused without waiting.
        let started = Instant::now();
        assert!(matches!(
            admission.admit(None, &chat).await,
            Err(Refusal::Overloaded { .. })
        ));
        assert!(started.elapsed() < Duration::from_millis(40));
        drop(first);
        assert!(waiter.await.unwrap());
        // Nobody frees a slot now: a waiter gives up after queue_wait.
        let _third = admission.admit(None, &chat).await.unwrap();
        assert!(matches!(
            admission.admit(None, &chat).await,
            Err(Refusal::Overloaded { .. })
        ));
    }
}
