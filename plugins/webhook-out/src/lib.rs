//! Omni's outgoing webhooks: every event of the host's log that reaches this
//! instance is posted, as JSON, to the business's own URL.
//!
//! Requests follow the Standard Webhooks specification
//! (<https://www.standardwebhooks.com/>): the body is `{"type", "timestamp",
//! "data"}` ([`payload`]), and the headers `webhook-id`, `webhook-timestamp`
//! and `webhook-signature` let the receiver check that Omni sent it, that it
//! is recent, and whether it has seen it before ([`signature`]). The id is
//! the event's log position, so a retry or a replay carries the same id and
//! the receiver drops the repeat. [`deliver`] sends one attempt and reads the
//! answer: 2xx is delivered, 408, 429 and 5xx are retried by the host (after
//! `Retry-After`), 410 Gone and other refusals are permanent.
//!
//! The plugin keeps no state: the host's subscriber cursor does the
//! bookkeeping, retries, and the ordering per person.

#![warn(missing_docs)]

pub mod deliver;
pub mod payload;
pub mod signature;

use omni_plugin_sdk::prelude::*;

/// The outgoing-webhook integration.
pub struct WebhookOut;

impl Integration for WebhookOut {
    fn manifest() -> Manifest {
        Manifest::new(
            "webhook-out",
            "Outgoing webhooks",
            env!("CARGO_PKG_VERSION"),
            ChannelKind::Other,
        )
        .with_description(
            "Posts each event of the log it receives to the business's URL as JSON, signed the Standard \
             Webhooks way (webhook-id, webhook-timestamp, webhook-signature). List the receiver's host in \
             `allowed_hosts`.",
        )
        .with_secret(signature::SIGNING_SECRET)
        .with_config_schema(config_schema())
    }

    fn on_event(host: &Host, event: DomainEvent) -> Result<EventOutcome, IntegrationError> {
        deliver::deliver(host, &event)?;
        Ok(EventOutcome::none())
    }
}

omni_plugin_sdk::export_integration!(WebhookOut);

/// JSON Schema of the instance's `config` table.
fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "required": ["url"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://[^\\s]+$",
                "description": "The receiver's URL, e.g. https://hooks.example.com/omni; http:// only for a local \
                                receiver. Its host must be listed in the instance's allowed_hosts."
            },
            "extra_headers": {
                "type": "object",
                "propertyNames": { "pattern": "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" },
                "additionalProperties": { "type": "string" },
                "description": "Static headers added to every request, e.g. {\"X-Tenant\" = \"acme\"}; the \
                                webhook-*, content-type and user-agent headers cannot be replaced."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_the_secret_and_no_hosts() {
        let manifest = WebhookOut::manifest();
        assert_eq!(manifest.id, "webhook-out");
        assert_eq!(manifest.kind, ChannelKind::Other);
        assert_eq!(manifest.capabilities.secrets, vec!["signing_secret"]);
        assert!(manifest.capabilities.outbound_hosts.is_empty());
        assert!(!manifest.capabilities.kv);
        let schema = testing::documented_config_schema(&manifest);
        assert_eq!(schema["required"], serde_json::json!(["url"]));
    }
}
