//! Omni's HubSpot CRM integration: persons become HubSpot contacts, merges
//! in Omni are reflected in HubSpot, resolved conversations are logged as
//! notes on the contact's timeline, and agents see the contact's profile.
//!
//! The plugin follows the host's event log ([`Integration::on_event`]) and
//! talks to HubSpot's CRM API v3 with a private app's access token
//! ([`client`], [`config`]):
//!
//! - [`contacts`]: `person.created`, `identity.added`, `message.received` and
//!   `conversation.resolved` link a person who has an email or phone to a
//!   contact, searching by email, then phone, before creating one; the id is
//!   returned as the event's record, so the host passes it back in
//!   `Person::records` from then on. An email or phone learnt later is copied
//!   to a linked contact that has none.
//! - [`merge`]: `person.merged` merges the survivor's later contacts into
//!   the first.
//! - [`notes`]: `conversation.resolved` writes the transcript as a note,
//!   once per event position.
//! - [`lookup`]: the agent's view of the contact, with its owner's name.
//!
//! Events arrive at least once and are replayed with the same positions, so
//! every write is guarded: contacts by `records`, search and HubSpot's
//! one-contact-per-email rule; notes and merges by the key-value store
//! ([`state`]) and by asking HubSpot. [`errors`] decides what is retried.

#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod contacts;
pub mod errors;
pub mod lookup;
pub mod merge;
pub mod notes;
pub mod state;

use omni_plugin_sdk::prelude::*;

use crate::client::Api;
use crate::config::Config;

/// The HubSpot integration.
pub struct HubSpot;

/// What an event asks of HubSpot.
enum Work {
    /// Link the person to a contact.
    Link,
    /// Copy a new email or phone to the linked contact.
    AddIdentity,
    /// Link the person, then log the transcript.
    Resolved,
    /// Merge the person's contacts.
    Merge,
}

impl Integration for HubSpot {
    fn manifest() -> Manifest {
        Manifest::new("hubspot", "HubSpot CRM", env!("CARGO_PKG_VERSION"), ChannelKind::Other)
            .with_description(
                "Links persons to HubSpot contacts (search before create), reflects merges, logs resolved \
                 conversations as notes on the contact and shows the contact to agents.",
            )
            .with_secret(config::ACCESS_TOKEN)
            .with_kv()
            .with_outbound_host("api.hubapi.com")
            .with_config_schema(config_schema())
    }

    fn on_event(host: &Host, event: DomainEvent) -> Result<EventOutcome, IntegrationError> {
        let Some(person) = event.person.as_ref() else {
            return Ok(EventOutcome::none());
        };
        let Some(work) = work(&event, person) else {
            return Ok(EventOutcome::none());
        };
        let config = Config::read(host)?;
        let api = Api::new(*host, &config);
        match work {
            Work::Link => Ok(linked(person, contacts::ensure(&api, person)?)),
            Work::AddIdentity => {
                let (Some(kind), Some(value)) = (event.data_str("kind"), event.data_str("value")) else {
                    return Ok(EventOutcome::none());
                };
                if let Some(record) = person.records.first() {
                    contacts::add_identity(&api, record, kind, value)?;
                }
                Ok(EventOutcome::none())
            }
            Work::Resolved => {
                let contact = contacts::ensure(&api, person)?;
                if let Some(contact) = &contact
                    && !event.transcript.is_empty()
                {
                    notes::log_transcript(&api, &event, contact)?;
                }
                Ok(linked(person, contact))
            }
            Work::Merge => merge::reflect(&api, person),
        }
    }

    fn lookup(host: &Host, person: Person) -> Result<Option<Profile>, IntegrationError> {
        let config = Config::read(host)?;
        lookup::lookup(&Api::new(*host, &config), &person)
    }
}

omni_plugin_sdk::export_integration!(HubSpot);

/// What `event` asks of HubSpot; `None` when nothing (the event kind is not
/// one the plugin follows, or the person is already linked and nothing
/// changed), so such events need neither config nor a request.
fn work(event: &DomainEvent, person: &Person) -> Option<Work> {
    let unlinked = person.records.is_empty();
    let reachable = person.email().is_some() || person.phone().is_some();
    match event.kind.as_str() {
        "person.created" | "message.received" if unlinked && reachable => Some(Work::Link),
        "identity.added" if unlinked && reachable => Some(Work::Link),
        "identity.added" if !unlinked && matches!(event.data_str("kind"), Some("email" | "phone")) => {
            Some(Work::AddIdentity)
        }
        "conversation.resolved" if (unlinked && reachable) || (!unlinked && !event.transcript.is_empty()) => {
            Some(Work::Resolved)
        }
        "person.merged" if person.records.len() >= 2 => Some(Work::Merge),
        _ => None,
    }
}

/// The event's outcome: the contact, unless the host has it linked already.
fn linked(person: &Person, contact: Option<String>) -> EventOutcome {
    match contact {
        Some(id) if !person.records.contains(&id) => EventOutcome::record(id),
        _ => EventOutcome::none(),
    }
}

/// JSON Schema of the instance's `config` table.
fn config_schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "api_base": {
                "type": "string",
                "pattern": "^https?://",
                "default": config::DEFAULT_API_BASE,
                "description": "Origin of HubSpot's API (paths such as /crm/v3/objects/contacts are appended); \
                                default https://api.hubapi.com. Point it at a local stand-in for tests, and list \
                                that origin in allowed_hosts."
            },
            "portal_id": {
                "type": ["string", "integer"],
                "pattern": "^[0-9]+$",
                "minimum": 1,
                "description": "The HubSpot account (portal / Hub) id; with it, profiles link to \
                                https://app.hubspot.com/contacts/{portal_id}/record/0-1/{contact id}."
            },
            "note_dedupe_property": {
                "type": "string",
                "pattern": "^[a-z][a-z0-9_]{0,99}$",
                "default": config::DEFAULT_NOTE_DEDUPE_PROPERTY,
                "description": "Internal name of a custom note property (single-line text) created in HubSpot; \
                                each transcript note stores the Omni event position there, so a replay finds \
                                the note instead of writing it twice. Default omni_event_id."
            },
            "create_contacts": {
                "type": "string",
                "enum": ["with_email_or_phone", "never"],
                "default": "with_email_or_phone",
                "description": "\"with_email_or_phone\" (default) creates a contact for a person HubSpot does \
                                not know once they have an email or phone; \"never\" only links persons to \
                                contacts found by email or phone."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_what_the_plugin_uses() {
        let manifest = HubSpot::manifest();
        assert_eq!(manifest.id, "hubspot");
        assert_eq!(manifest.kind, ChannelKind::Other);
        assert!(manifest.capabilities.kv);
        assert_eq!(manifest.capabilities.secrets, vec!["access_token"]);
        assert_eq!(manifest.capabilities.outbound_hosts, vec!["api.hubapi.com"]);
        let schema = testing::documented_config_schema(&manifest);
        assert_eq!(schema["properties"].as_object().unwrap().len(), 4);
    }
}
