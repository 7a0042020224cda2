//! A resolved conversation as a completed Task or a closed Case.
//!
//! The record is upserted by the event's log position in the activity
//! External ID field (`PATCH /sobjects/Task/Omni_Event_Id__c/{position}`),
//! so a redelivered or replayed `conversation.resolved` updates the same
//! Task instead of logging the conversation twice.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::{MessageDirection, TranscriptLine, clock};
use serde_json::{Map, Value, json};

use crate::api::Api;
use crate::config::{ConversationRecord, PersonObject};
use crate::errors;
use crate::records::{self, cut};

/// Subject is a 255-character field on Task and Case.
const SUBJECT_MAX: usize = 255;
/// Description (a long text area) holds 32,000 characters on Task and Case.
const DESCRIPTION_MAX: usize = 32_000;

/// Logs a resolved conversation on the person's record.
pub fn record_conversation(
    api: &mut Api,
    event: &DomainEvent,
    person: &Person,
) -> Result<EventOutcome, IntegrationError> {
    let object = match api.config.conversation_record {
        ConversationRecord::Nothing => return Ok(EventOutcome::none()),
        ConversationRecord::Task => "Task",
        ConversationRecord::Case => "Case",
    };
    // Usually known from an earlier upsert; a person resolved before any of
    // their events was synced is upserted now, so the Task has a WhoId.
    let who = match records::known_record(api, person) {
        Some(id) => id,
        None => records::upsert(api, person)?,
    };
    let body = activity_fields(api.config.object, api.config.conversation_record, event, person, &who);
    let position = event.position.to_string();
    let url = api
        .config
        .by_external_id(object, &api.config.activity_external_id_field, &position);
    let what = format!(
        "upserting {object} {}={position}",
        api.config.activity_external_id_field
    );
    let response = api.patch(&url, &body)?;
    match response.status {
        200..=299 => {
            api.host().debug(&format!("{what}: done"));
            Ok(EventOutcome::record(who))
        }
        300 => Err(IntegrationError::permanent(format!(
            "Salesforce answered 300 while {what}: several records share that external ID; mark the field Unique"
        ))),
        _ => Err(errors::classify(&response, &what)),
    }
}

/// The Task's or Case's fields.
pub fn activity_fields(
    object: PersonObject,
    kind: ConversationRecord,
    event: &DomainEvent,
    person: &Person,
    who: &str,
) -> Value {
    let mut fields = Map::new();
    fields.insert("Subject".into(), json!(cut(&subject(event), SUBJECT_MAX)));
    fields.insert("Description".into(), json!(transcript(&event.transcript)));
    match kind {
        ConversationRecord::Case => {
            fields.insert("Status".into(), json!("Closed"));
            fields.insert("Origin".into(), json!("Omni"));
            match object {
                PersonObject::Contact => {
                    fields.insert("ContactId".into(), json!(who));
                }
                // A Case cannot point at a Lead; the web-to-case fields keep
                // who it was about.
                PersonObject::Lead => {
                    if let Some(name) = person.display_name.as_deref().filter(|n| !n.trim().is_empty()) {
                        fields.insert("SuppliedName".into(), json!(cut(name, 80)));
                    }
                    if let Some(email) = person.email().filter(|e| !e.trim().is_empty()) {
                        fields.insert("SuppliedEmail".into(), json!(cut(email, 80)));
                    }
                    if let Some(phone) = person.phone().filter(|p| !p.trim().is_empty()) {
                        fields.insert("SuppliedPhone".into(), json!(cut(phone, 40)));
                    }
                }
            }
        }
        _ => {
            fields.insert("Status".into(), json!("Completed"));
            fields.insert("ActivityDate".into(), json!(clock::date(event.at)));
            // WhoId takes a Contact or a Lead alike.
            fields.insert("WhoId".into(), json!(who));
        }
    }
    Value::Object(fields)
}

/// `Conversation <id> (<channels>)`, channels in order of first use.
pub fn subject(event: &DomainEvent) -> String {
    let mut channels: Vec<&str> = Vec::new();
    for line in &event.transcript {
        let channel = line.channel.trim();
        if !channel.is_empty() && !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    if channels.is_empty()
        && let Some(channel) = event.data_str("channel").filter(|c| !c.trim().is_empty())
    {
        channels.push(channel.trim());
    }
    let mut subject = match event.conversation_id.as_deref().filter(|id| !id.is_empty()) {
        Some(id) => format!("Conversation {id}"),
        None => "Conversation".to_owned(),
    };
    if !channels.is_empty() {
        subject.push_str(&format!(" ({})", channels.join(", ")));
    }
    subject
}

/// One line per message, `[channel] Customer: text` or `[channel] Agent: text`,
/// oldest first. Past the field's size the rest is left out, saying so.
pub fn transcript(lines: &[TranscriptLine]) -> String {
    let mut out = String::new();
    let mut used = 0usize;
    for (index, line) in lines.iter().enumerate() {
        let who = match line.direction {
            MessageDirection::Inbound => "Customer",
            MessageDirection::Outbound => "Agent",
        };
        let text = format!("[{}] {who}: {}", line.channel, line.text.trim());
        let length = text.chars().count() + usize::from(index > 0);
        // Room for the note about what was left out.
        if used + length > DESCRIPTION_MAX - 80 {
            let rest = lines.len() - index;
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("[{rest} more message(s) not shown]"));
            break;
        }
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&text);
        used += length;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_transcripts_are_cut_with_a_note() {
        let line = TranscriptLine {
            direction: MessageDirection::Inbound,
            channel: "email".into(),
            text: "x".repeat(1000),
            at: 0,
        };
        let lines = vec![line; 40];
        let text = transcript(&lines);
        assert!(text.chars().count() <= DESCRIPTION_MAX);
        assert!(text.ends_with("more message(s) not shown]"));
    }
}
