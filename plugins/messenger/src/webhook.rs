//! `POST /webhook`: a signed notification that may carry many entries and
//! messaging events; every one becomes an event.

use std::collections::BTreeMap;

use omni_plugin_sdk::prelude::*;

use crate::config::Settings;
use crate::payload::{Notification, millis};
use crate::{inbound, receipts, window};

/// Handles a notification whose signature `meta::route` checked: 400 when
/// malformed, else 200 with its events.
pub fn receive(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let notification: Notification = request.json()?;
    // Meta retries anything but a quick 200, so every valid notification gets one.
    let mut outcome = WebhookOutcome::new(Response::ok());
    let is_page = match notification.object.as_str() {
        "page" => true,
        "instagram" => false,
        other => {
            host.debug(&format!("ignored a webhook for object {other:?}"));
            return Ok(outcome);
        }
    };
    let settings = Settings::load(host)?;
    let mut latest_message: BTreeMap<String, i64> = BTreeMap::new();

    for entry in &notification.entry {
        if is_page
            && let Some(page_id) = settings.page_id.as_deref()
            && entry.id != page_id
        {
            host.debug(&format!("ignored events of Page {}, not {page_id}", entry.id));
            continue;
        }
        for event in &entry.messaging {
            let user = event.sender.id.as_str();
            // The Page or account itself: echoes of what it sent.
            if user.is_empty() || user == entry.id {
                host.debug("ignored an event sent by the Page or account itself");
                continue;
            }
            let at = event.timestamp.or(entry.time).map(millis);
            let inbound = if let Some(message) = &event.message {
                inbound::message(host, user, message, at)
            } else if let Some(postback) = &event.postback {
                inbound::postback(host, user, postback, at)
            } else if let Some(reaction) = &event.reaction {
                inbound::reaction(host, user, reaction, at)
            } else if let Some(delivery) = &event.delivery {
                outcome
                    .events
                    .extend(receipts::delivered(host, user, delivery)?.into_iter().map(Event::from));
                continue;
            } else if let Some(read) = &event.read {
                outcome
                    .events
                    .extend(receipts::read(host, user, read, at)?.into_iter().map(Event::from));
                continue;
            } else {
                host.debug("ignored a messaging event of a kind Omni does not carry");
                continue;
            };
            if let Some(message) = inbound {
                if let Some(at) = message.sent_at {
                    let latest = latest_message.entry(user.to_owned()).or_insert(at);
                    *latest = (*latest).max(at);
                }
                outcome.events.push(message.into());
            }
        }
    }
    window::record(host, &latest_message);
    Ok(outcome)
}
