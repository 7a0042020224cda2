//! What an integration sees of the store: a logged event with the person as
//! they are now, and a conversation's transcript when it was resolved.

use omni_core::{ConnectorId, Direction, IdentityKind, LoggedEvent, MessageKind, Person, Store, StoreError};

use crate::events::wit_identity_kind;
use crate::runtime::bindings::wit;

/// Most transcript lines given with `conversation.resolved`.
const MAX_TRANSCRIPT: usize = 200;

/// The namespace of an integration instance's record ids on persons
/// (`crm_id` identities are stored as `<instance>:<record id>`).
pub fn record_prefix(instance: &ConnectorId) -> String {
    format!("{instance}:")
}

/// A person as integration `instance` sees them: every identity, and the
/// record ids of this instance without their prefix.
pub fn person(person: &Person, instance: &ConnectorId) -> wit::Person {
    let prefix = record_prefix(instance);
    let mut records = Vec::new();
    let mut identities = Vec::new();
    for identity in &person.identities {
        if identity.kind == IdentityKind::CrmId
            && let Some(record) = identity.value.strip_prefix(&prefix)
        {
            records.push(record.to_owned());
        }
        identities.push(wit::Identity {
            kind: wit_identity_kind(identity.kind),
            value: identity.value.clone(),
            verified: identity.verified,
        });
    }
    wit::Person {
        id: person.id.to_string(),
        display_name: person.display_name.clone(),
        identities,
        records,
    }
}

/// The event as integration `instance` receives it.
pub async fn domain_event(
    store: &dyn Store,
    instance: &ConnectorId,
    event: &LoggedEvent,
) -> Result<wit::DomainEvent, StoreError> {
    let person = match event.person_id {
        Some(id) => store.person(id).await?.map(|p| person(&p, instance)),
        None => None,
    };
    let transcript = match (event.kind.as_str(), event.conversation_id) {
        ("conversation.resolved", Some(id)) => transcript(store, id).await?,
        _ => Vec::new(),
    };
    Ok(wit::DomainEvent {
        position: event.position,
        kind: event.kind.clone(),
        at: event.at.as_millis(),
        person,
        conversation_id: event.conversation_id.map(|c| c.to_string()),
        message_id: event.message_id.map(|m| m.to_string()),
        data: event.data.to_string(),
        transcript,
    })
}

async fn transcript(
    store: &dyn Store,
    conversation: omni_core::ConversationId,
) -> Result<Vec<wit::TranscriptLine>, StoreError> {
    let Some(detail) = store.conversation(conversation).await? else {
        return Ok(Vec::new());
    };
    let texts: Vec<_> = detail
        .messages
        .iter()
        .filter(|m| m.kind == MessageKind::Text && !m.text.is_empty())
        .collect();
    let skip = texts.len().saturating_sub(MAX_TRANSCRIPT);
    Ok(texts
        .into_iter()
        .skip(skip)
        .map(|m| wit::TranscriptLine {
            direction: match m.direction {
                Direction::Inbound => wit::MessageDirection::Inbound,
                Direction::Outbound => wit::MessageDirection::Outbound,
            },
            channel: m.channel.clone(),
            text: m.text.clone(),
            at: m.created_at.as_millis(),
        })
        .collect())
}
