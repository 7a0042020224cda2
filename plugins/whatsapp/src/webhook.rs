//! `POST /webhook`: a signed notification that may carry many entries,
//! changes, messages and statuses; every one becomes an event.

use std::collections::BTreeMap;

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

use crate::config::Settings;
use crate::payload::{MessagesValue, Notification};
use crate::{inbound, status, window};

/// Handles a notification whose signature `meta::route` checked: 400 when
/// malformed, else 200 with its events.
pub fn receive(host: &Host, request: &Request) -> Result<WebhookOutcome, PluginError> {
    let notification: Notification = request.json()?;
    // Meta retries anything but a quick 200, so every valid notification gets one.
    let mut outcome = WebhookOutcome::new(Response::ok());
    if notification.object != "whatsapp_business_account" {
        host.debug(&format!("ignored a webhook for object {:?}", notification.object));
        return Ok(outcome);
    }
    let settings = Settings::load(host)?;
    let mut latest_message: BTreeMap<String, i64> = BTreeMap::new();

    for entry in &notification.entry {
        for change in &entry.changes {
            if change.field != "messages" {
                host.debug(&format!("ignored a {:?} change of account {}", change.field, entry.id));
                continue;
            }
            let value = MessagesValue::deserialize(&change.value).map_err(|e| {
                PluginError::bad_request(format!("account {}: malformed `messages` change: {e}", entry.id))
            })?;
            let number = value.metadata.as_ref().map(|m| m.phone_number_id.as_str());
            if let (Some(expected), Some(number)) = (settings.phone_number_id.as_deref(), number)
                && expected != number
            {
                host.debug(&format!(
                    "ignored a change about phone number id {number}, not {expected}"
                ));
                continue;
            }
            for error in &value.errors {
                host.warn(&format!("WhatsApp reported an error: {}", error.describe()));
            }
            for message in &value.messages {
                let Some(event) = inbound::message(host, &value.contacts, message) else {
                    continue;
                };
                if let (Some(wa_id), Some(seconds)) = (inbound::sender_number(message), message.timestamp) {
                    let latest = latest_message.entry(wa_id.to_owned()).or_insert(seconds);
                    *latest = (*latest).max(seconds);
                }
                outcome.events.push(event.into());
            }
            for status in &value.statuses {
                if let Some(delivery) = status::delivery(host, status) {
                    outcome.events.push(delivery.into());
                }
            }
        }
    }
    window::record(host, &latest_message);
    Ok(outcome)
}
