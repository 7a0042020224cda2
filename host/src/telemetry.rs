//! Prometheus counters for `/metrics`: what operators alert on.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectorLabels {
    connector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    connector: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MessageLabels {
    connector: String,
    channel: String,
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    connector: String,
    call: String,
}

/// The host's counters.
pub struct Telemetry {
    registry: Mutex<Registry>,
    webhooks: Family<OutcomeLabels, Counter>,
    messages: Family<MessageLabels, Counter>,
    duplicates: Family<ConnectorLabels, Counter>,
    plugin_failures: Family<OutcomeLabels, Counter>,
    deliveries: Family<OutcomeLabels, Counter>,
    events_delivered: Family<OutcomeLabels, Counter>,
    csat: Family<ConnectorLabels, Counter>,
    call_seconds: Family<CallLabels, Histogram>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("omni");
        let webhooks = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "webhooks",
            "Webhook requests by connector and outcome (ok or an error code)",
            webhooks.clone(),
        );
        let messages = Family::<MessageLabels, Counter>::default();
        registry.register(
            "messages",
            "Messages stored by connector, channel and direction",
            messages.clone(),
        );
        let duplicates = Family::<ConnectorLabels, Counter>::default();
        registry.register(
            "duplicate_events",
            "Events dropped as provider retries",
            duplicates.clone(),
        );
        let plugin_failures = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "plugin_failures",
            "Plugin calls that failed, by error code",
            plugin_failures.clone(),
        );
        let deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Send attempts by result (sent, retry, failed)",
            deliveries.clone(),
        );
        let events_delivered = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "subscriber_events",
            "Event-log deliveries to subscribers by result (delivered, retry, dead, parked)",
            events_delivered.clone(),
        );
        let csat = Family::<ConnectorLabels, Counter>::default();
        registry.register("csat_answers", "Satisfaction answers stored", csat.clone());
        let call_seconds = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.5, 12))
        });
        registry.register(
            "plugin_call_seconds",
            "Time of plugin calls, instantiation included",
            call_seconds.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            webhooks,
            messages,
            duplicates,
            plugin_failures,
            deliveries,
            events_delivered,
            csat,
            call_seconds,
        }
    }

    /// Counts a webhook's outcome (`ok` or an error code).
    pub fn webhook(&self, connector: &str, outcome: &str) {
        self.webhooks
            .get_or_create(&OutcomeLabels {
                connector: connector.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts stored messages.
    pub fn messages(&self, connector: &str, channel: &str, direction: &str, count: u64) {
        if count > 0 {
            let labels = MessageLabels {
                connector: connector.to_owned(),
                channel: channel.to_owned(),
                direction: direction.to_owned(),
            };
            self.messages.get_or_create(&labels).inc_by(count);
        }
    }

    /// Counts dropped duplicates.
    pub fn duplicates(&self, connector: &str, count: u64) {
        if count > 0 {
            self.duplicates
                .get_or_create(&ConnectorLabels {
                    connector: connector.to_owned(),
                })
                .inc_by(count);
        }
    }

    /// Counts a failed plugin call.
    pub fn plugin_failure(&self, connector: &str, code: &str) {
        self.plugin_failures
            .get_or_create(&OutcomeLabels {
                connector: connector.to_owned(),
                outcome: code.to_owned(),
            })
            .inc();
    }

    /// Counts a send attempt's result.
    pub fn delivery(&self, connector: &str, result: &str) {
        self.deliveries
            .get_or_create(&OutcomeLabels {
                connector: connector.to_owned(),
                outcome: result.to_owned(),
            })
            .inc();
    }

    /// Counts an event-log delivery to a subscriber.
    pub fn subscriber_event(&self, subscriber: &str, result: &str) {
        self.events_delivered
            .get_or_create(&OutcomeLabels {
                connector: subscriber.to_owned(),
                outcome: result.to_owned(),
            })
            .inc();
    }

    /// Counts satisfaction answers.
    pub fn csat(&self, connector: &str, count: u64) {
        if count > 0 {
            self.csat
                .get_or_create(&ConnectorLabels {
                    connector: connector.to_owned(),
                })
                .inc_by(count);
        }
    }

    /// Records how long a plugin call took.
    pub fn call_time(&self, connector: &str, call: &str, elapsed: Duration) {
        self.call_seconds
            .get_or_create(&CallLabels {
                connector: connector.to_owned(),
                call: call.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_exposition() {
        let telemetry = Telemetry::new();
        telemetry.webhook("webchat", "ok");
        telemetry.messages("webchat", "webchat", "inbound", 2);
        telemetry.call_time("webchat", "handle-webhook", Duration::from_micros(40));
        let text = telemetry.encode();
        assert!(
            text.contains(r#"omni_webhooks_total{connector="webchat",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"omni_messages_total{connector="webchat",channel="webchat",direction="inbound"} 2"#));
        assert!(text.contains("omni_plugin_call_seconds_bucket"));
    }
}
