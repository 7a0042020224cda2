//! The JSON body sent for one event, in the Standard Webhooks shape:
//! `{"type", "timestamp", "data"}`.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::{MessageDirection, TranscriptLine};
use serde::Serialize;
use time::OffsetDateTime;

/// The `webhook-id` of an event: its log position, which is the same on
/// every retry and replay, so a receiver can drop repeats.
pub fn webhook_id(event: &DomainEvent) -> String {
    format!("evt_{}", event.position)
}

/// The body of the request for `event`, serialised compactly; these exact
/// bytes are signed and sent.
pub fn body(event: &DomainEvent) -> Result<Vec<u8>, IntegrationError> {
    let payload = Payload {
        kind: &event.kind,
        timestamp: rfc3339(event.at)?,
        data: Data {
            position: event.position,
            person: event.person.as_ref().map(PersonView::from),
            conversation_id: event.conversation_id.as_deref(),
            message_id: event.message_id.as_deref(),
            details: &event.data,
            transcript: event
                .transcript
                .iter()
                .map(LineView::try_from)
                .collect::<Result<_, _>>()?,
        },
    };
    serde_json::to_vec(&payload)
        .map_err(|e| IntegrationError::permanent(format!("the event cannot be serialised as JSON: {e}")))
}

/// Milliseconds since the epoch as RFC 3339 in UTC with milliseconds,
/// e.g. `2024-10-01T09:30:00.250Z`: one fixed width, so receivers can parse
/// and even sort it as text.
pub fn rfc3339(millis: i64) -> Result<String, IntegrationError> {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .filter(|t| (0..=9999).contains(&t.year()))
        .ok_or_else(|| IntegrationError::permanent(format!("the event time {millis} ms is out of range")))?;
    Ok(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    ))
}

/// The top level of the body.
#[derive(Serialize)]
struct Payload<'a> {
    /// The event kind, e.g. `conversation.resolved`.
    #[serde(rename = "type")]
    kind: &'a str,
    /// When the event happened (not when it is delivered).
    timestamp: String,
    data: Data<'a>,
}

/// `data`: the event's own fields. Absent ids are `null` rather than left
/// out, so every event kind has the same top-level schema.
#[derive(Serialize)]
struct Data<'a> {
    position: i64,
    person: Option<PersonView<'a>>,
    conversation_id: Option<&'a str>,
    message_id: Option<&'a str>,
    /// The kind-specific details, as the host logged them.
    details: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    transcript: Vec<LineView<'a>>,
}

/// The person as the receiver sees them: no record ids (they belong to the
/// host's integrations, not to this receiver).
#[derive(Serialize)]
struct PersonView<'a> {
    id: &'a str,
    display_name: Option<&'a str>,
    identities: Vec<IdentityView<'a>>,
}

impl<'a> From<&'a Person> for PersonView<'a> {
    fn from(person: &'a Person) -> Self {
        Self {
            id: &person.id,
            display_name: person.display_name.as_deref(),
            identities: person.identities.iter().map(IdentityView::from).collect(),
        }
    }
}

/// An identity with its kind spelled as in the host's `/v1` API and
/// configuration (`channel_user`, `crm_id`), not as in the plugin contract.
#[derive(Serialize)]
struct IdentityView<'a> {
    kind: &'static str,
    value: &'a str,
    verified: bool,
}

impl<'a> From<&'a Identity> for IdentityView<'a> {
    fn from(identity: &'a Identity) -> Self {
        Self {
            kind: match identity.kind {
                IdentityKind::Email => "email",
                IdentityKind::Phone => "phone",
                IdentityKind::ChannelUser => "channel_user",
                IdentityKind::CrmId => "crm_id",
                IdentityKind::ExternalId => "external_id",
            },
            value: &identity.value,
            verified: identity.verified,
        }
    }
}

/// A transcript line with its time in RFC 3339, like the top-level timestamp.
#[derive(Serialize)]
struct LineView<'a> {
    direction: &'static str,
    channel: &'a str,
    text: &'a str,
    at: String,
}

impl<'a> TryFrom<&'a TranscriptLine> for LineView<'a> {
    type Error = IntegrationError;

    fn try_from(line: &'a TranscriptLine) -> Result<Self, Self::Error> {
        Ok(Self {
            direction: match line.direction {
                MessageDirection::Inbound => "inbound",
                MessageDirection::Outbound => "outbound",
            },
            channel: &line.channel,
            text: &line.text,
            at: rfc3339(line.at)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_a_fixed_width() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_727_775_000_250).unwrap(), "2024-10-01T09:30:00.250Z");
        assert_eq!(rfc3339(-1).unwrap(), "1969-12-31T23:59:59.999Z");
        assert!(rfc3339(i64::MAX).is_err());
        assert!(rfc3339(i64::MIN).is_err());
        assert!(rfc3339(253_402_300_800_000).is_err(), "year 10000");
    }
}
