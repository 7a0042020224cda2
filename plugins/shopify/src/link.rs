//! Linking persons to Shopify customers as the host learns their email
//! addresses and phone numbers.
//!
//! Nothing is cached: the customer is searched when an identity arrives, and
//! the host stores the link (a trusted CRM id). Lookups read Shopify afresh.

use omni_plugin_sdk::prelude::*;

use crate::api::AdminApi;
use crate::customer::{self, Customer};

/// Handles one event of the log: `identity.added` of an email or phone, and
/// `person.created`, search the customer; every other kind is ignored.
pub fn on_event(host: &Host, event: &DomainEvent) -> Result<EventOutcome, IntegrationError> {
    let Some(person) = event.person.as_ref() else {
        return Ok(EventOutcome::none());
    };
    let found = match event.kind.as_str() {
        "identity.added" => match added_identity(event, person) {
            Some((IdentityKind::Email, value)) => customer::search_email(host, &AdminApi::load(host)?, &value)?,
            Some((IdentityKind::Phone, value)) => customer::search_phone(host, &AdminApi::load(host)?, &value)?,
            _ => None,
        },
        // A person already linked needs no search; identity.added covers
        // the addresses they gain later.
        "person.created" if person.records.is_empty() => created(host, person)?,
        _ => None,
    };
    Ok(outcome(person, found))
}

/// The email or phone an `identity.added` event names — only if the person
/// holds it, so a link never rests on an address of someone else.
fn added_identity(event: &DomainEvent, person: &Person) -> Option<(IdentityKind, String)> {
    let kind = match event.data_str("kind")? {
        "email" => IdentityKind::Email,
        "phone" => IdentityKind::Phone,
        _ => return None,
    };
    let value = event.data_str("value")?.trim();
    let held = person
        .identities
        .iter()
        .any(|i| i.kind == kind && i.value.trim().eq_ignore_ascii_case(value));
    (held && !value.is_empty()).then(|| (kind, value.to_owned()))
}

/// A new person: search by their email, then by their phone number.
fn created(host: &Host, person: &Person) -> Result<Option<Customer>, IntegrationError> {
    if person.email().is_none() && person.phone().is_none() {
        return Ok(None);
    }
    customer::find_by_contact(host, &AdminApi::load(host)?, person)
}

/// The customer as the person's record, unless already linked.
fn outcome(person: &Person, found: Option<Customer>) -> EventOutcome {
    match found.and_then(|c| c.id()) {
        Some(id) if !person.records.contains(&id) => EventOutcome::record(id),
        _ => EventOutcome::none(),
    }
}
