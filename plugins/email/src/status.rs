//! Delivery webhooks (`POST /events`): Postmark's Delivery, Bounce,
//! SpamComplaint, Open and Click webhooks, SendGrid's Event Webhook and
//! Mailgun's JSON webhooks become `DeliveryStatus` events whose external id
//! is our Message-ID, the external id `send` returned. The provider echoes
//! it back (Postmark `Metadata`, SendGrid `custom_args`, Mailgun
//! `user-variables`); otherwise the provider's message id is looked up in the
//! kv mapping `send` stored. Statuses of messages this instance did not send
//! are ignored.

use std::collections::HashMap;

use omni_plugin_sdk::prelude::*;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth;
use crate::config::{self, InboundAuth, Provider};
use crate::{mailgun, postmark, sendgrid, threading};

/// Most kv look-ups in one call (the host allows 256 reads).
const MAX_LOOKUPS: usize = 200;
/// Most events one webhook returns (the host's default limit).
const MAX_EVENTS: usize = 256;

/// One delivery update as a provider reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderStatus {
    /// Who reported it.
    pub provider: Provider,
    /// Our Message-ID, when the provider echoed it.
    pub our_id: Option<String>,
    /// The provider's message id.
    pub provider_id: Option<String>,
    /// The new state.
    pub state: DeliveryState,
    /// Why it failed.
    pub error: Option<String>,
    /// When, ms since the Unix epoch.
    pub at: Option<i64>,
}

/// Handles `POST /events`.
pub fn receive(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let mode = config::inbound_auth(host)?;
    if mode == InboundAuth::Basic {
        auth::check_basic(host, request)?;
    }
    let body: Value = request.json()?;
    let is_mailgun = body.get("event-data").is_some() || body.get("signature").is_some();
    if mode == InboundAuth::Mailgun {
        if !is_mailgun {
            host.warn("refused an unsigned delivery webhook: only Mailgun's are signed");
            return Err(PluginError::unauthorized(
                "inbound_auth is \"mailgun\" but this webhook carries no Mailgun signature",
            ));
        }
        auth::check_mailgun(host, mailgun::signature(&body))?;
    }
    let reported: Vec<ProviderStatus> = match &body {
        Value::Array(items) => sendgrid::statuses(host, items)?,
        Value::Object(map) if map.contains_key("RecordType") => postmark::status(&body)?.into_iter().collect(),
        Value::Object(_) if is_mailgun => mailgun::status(host, &body)?.into_iter().collect(),
        _ => {
            host.debug("ignored a delivery webhook of an unknown shape");
            Vec::new()
        }
    };
    let statuses = resolve(host, reported)?;
    let count = statuses.len();
    let mut outcome = WebhookOutcome::new(Response::json(200, &serde_json::json!({ "accepted": count })));
    for status in statuses {
        outcome = outcome.with_event(status);
    }
    Ok(outcome)
}

/// Maps reports to our external ids, keeps the furthest state per message
/// (a batch may hold `delivered` and `open` of one message) and caps the count.
fn resolve(host: &Host, reported: Vec<ProviderStatus>) -> Result<Vec<DeliveryStatus>, PluginError> {
    let mut lookups = 0;
    let mut order: Vec<String> = Vec::new();
    let mut best: HashMap<String, DeliveryStatus> = HashMap::new();
    for report in reported {
        let id = match report.our_id.as_deref().and_then(threading::external_id) {
            Some(id) => Some(id),
            None => match &report.provider_id {
                Some(provider_id) if lookups < MAX_LOOKUPS => {
                    lookups += 1;
                    host.kv_get_json::<String>(&threading::sent_key(report.provider.name(), provider_id))?
                }
                Some(provider_id) => {
                    host.warn(&format!("too many statuses in one webhook; skipped {provider_id}"));
                    None
                }
                None => None,
            },
        };
        let Some(id) = id else {
            host.debug(&format!(
                "ignored a {} status of a message this connector did not send",
                report.provider.name()
            ));
            continue;
        };
        let status = DeliveryStatus {
            external_id: id.clone(),
            state: report.state,
            error: report.error,
            at: report.at,
        };
        match best.get(&id) {
            Some(existing) if rank(existing.state) >= rank(status.state) => {}
            Some(_) => {
                best.insert(id, status);
            }
            None => {
                order.push(id.clone());
                best.insert(id, status);
            }
        }
    }
    if order.len() > MAX_EVENTS {
        host.warn(&format!(
            "{} statuses in one webhook; only the first {MAX_EVENTS} are reported",
            order.len()
        ));
        order.truncate(MAX_EVENTS);
    }
    Ok(order.into_iter().filter_map(|id| best.remove(&id)).collect())
}

fn rank(state: DeliveryState) -> u8 {
    match state {
        DeliveryState::Sent => 0,
        DeliveryState::Delivered => 1,
        DeliveryState::Read => 2,
        DeliveryState::Failed => 3,
    }
}

/// An RFC 3339 / ISO 8601 time (`2019-11-05T16:33:54.9070259Z`) in ms since the epoch.
pub fn rfc3339_ms(text: &str) -> Option<i64> {
    let parsed = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postmark_times() {
        assert_eq!(rfc3339_ms("2019-11-05T16:33:54.9070259Z"), Some(1_572_971_634_907));
        assert_eq!(rfc3339_ms("2014-02-17T07:25:01.4178645-05:00"), Some(1_392_639_901_417));
        assert_eq!(rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn the_furthest_state_wins() {
        let mock = testing::MockHost::new();
        let report = |state, id: &str| ProviderStatus {
            provider: Provider::Sendgrid,
            our_id: Some(id.to_owned()),
            provider_id: None,
            state,
            error: None,
            at: None,
        };
        let statuses = resolve(
            &mock.host(),
            vec![
                report(DeliveryState::Delivered, "a@x"),
                report(DeliveryState::Delivered, "b@x"),
                report(DeliveryState::Read, "a@x"),
                report(DeliveryState::Delivered, "a@x"),
            ],
        )
        .unwrap();
        let summary: Vec<(&str, DeliveryState)> = statuses.iter().map(|s| (s.external_id.as_str(), s.state)).collect();
        assert_eq!(
            summary,
            vec![("a@x", DeliveryState::Read), ("b@x", DeliveryState::Delivered)]
        );
    }
}
