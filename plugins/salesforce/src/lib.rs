//! Omni's Salesforce CRM integration.
//!
//! Follows the host's event log and keeps one Contact (or Lead) per Omni
//! person in a Salesforce org, through the REST API: people are upserted by
//! a custom External ID field holding the Omni person id ([`records`]), so
//! the at-least-once, replayable log never creates a record twice; resolved
//! conversations become completed Tasks or closed Cases, upserted by the
//! event's log position ([`tasks`]); agents see the person's Salesforce
//! profile ([`lookup`]). Authentication is a connected app's OAuth refresh
//! token flow, with the access token cached in the key-value store, or a
//! static access token ([`auth`], [`api`]). Salesforce's error arrays become
//! retryable or permanent failures ([`errors`]).
//!
//! Merges: the REST API has no merge call for Contacts or Leads (merging is
//! a SOAP API call or Apex), so after a merge in Omni the survivor is upserted
//! and the merged-away person's record is only annotated; the operator merges
//! the two in Salesforce.

#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod config;
pub mod errors;
pub mod lookup;
pub mod records;
pub mod tasks;

use omni_plugin_sdk::prelude::*;

use crate::api::Api;

/// The Salesforce integration.
pub struct Salesforce;

impl Integration for Salesforce {
    fn manifest() -> Manifest {
        Manifest::new(
            "salesforce",
            "Salesforce",
            env!("CARGO_PKG_VERSION"),
            ChannelKind::Other,
        )
        .with_description(
            "Salesforce CRM: upserts a Contact or Lead per person by an External ID field, logs resolved \
                 conversations as Tasks or Cases, and shows the record's owner and account to agents. OAuth \
                 refresh token flow of a connected app, or a static access token.",
        )
        .with_secret(auth::ACCESS_TOKEN)
        .with_secret(auth::CLIENT_ID)
        .with_secret(auth::CLIENT_SECRET)
        .with_secret(auth::REFRESH_TOKEN)
        .with_kv()
        .with_outbound_host("login.salesforce.com")
        .with_outbound_host("test.salesforce.com")
        .with_outbound_host("*.my.salesforce.com")
        .with_config_schema(config::schema())
    }

    fn on_event(host: &Host, event: DomainEvent) -> Result<EventOutcome, IntegrationError> {
        let Some(person) = event.person.as_ref() else {
            return Ok(EventOutcome::none());
        };
        if !wanted(&event, person) {
            return Ok(EventOutcome::none());
        }
        if person.id.trim().is_empty() {
            host.warn(&format!(
                "event {} ({}) has a person without an id; skipped",
                event.position, event.kind
            ));
            return Ok(EventOutcome::none());
        }
        let mut api = Api::new(*host)?;
        match event.kind.as_str() {
            "conversation.resolved" => tasks::record_conversation(&mut api, &event, person),
            "person.merged" => {
                let survivor = records::upsert(&mut api, person)?;
                if let Some(merged) = event
                    .data_str("merged")
                    .map(str::trim)
                    .filter(|m| !m.is_empty() && *m != person.id)
                {
                    records::mark_merged(&mut api, merged, &person.id)?;
                }
                Ok(EventOutcome::record(survivor))
            }
            _ => Ok(EventOutcome::record(records::upsert(&mut api, person)?)),
        }
    }

    fn lookup(host: &Host, person: Person) -> Result<Option<Profile>, IntegrationError> {
        if person.id.trim().is_empty() {
            return Ok(None);
        }
        let mut api = Api::new(*host)?;
        lookup::lookup(&mut api, &person)
    }
}

omni_plugin_sdk::export_integration!(Salesforce);

/// Whether an event calls for Salesforce at all; decided before credentials
/// are read, so ignored events never fail.
fn wanted(event: &DomainEvent, person: &Person) -> bool {
    match event.kind.as_str() {
        // A person known only by a channel user id is not worth a CRM record yet.
        "person.created" => person.email().is_some() || person.phone().is_some(),
        // Only an email or phone changes what Salesforce holds; any identity
        // gives a person without a record one.
        "identity.added" => {
            let kind = event.data_str("kind").unwrap_or("").to_ascii_lowercase();
            person.records.is_empty() || kind == "email" || kind == "phone"
        }
        "message.received" => person.records.is_empty(),
        "person.merged" | "conversation.resolved" => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_what_the_plugin_uses() {
        let manifest = Salesforce::manifest();
        assert_eq!(manifest.id, "salesforce");
        assert_eq!(manifest.kind, ChannelKind::Other);
        assert!(manifest.capabilities.kv);
        assert_eq!(
            manifest.capabilities.secrets,
            vec!["access_token", "client_id", "client_secret", "refresh_token"]
        );
        assert!(
            manifest
                .capabilities
                .outbound_hosts
                .contains(&"login.salesforce.com".to_owned())
        );
        let schema = testing::documented_config_schema(&manifest);
        assert_eq!(schema["required"], serde_json::json!(["instance_url"]));
    }
}
