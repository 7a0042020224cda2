//! Transcripts of resolved conversations, as notes on the contact's timeline.
//!
//! Each note carries the event's position in a custom note property
//! (`note_dedupe_property`, default `omni_event_id`) that the operator
//! creates in HubSpot. Before writing, the plugin asks its key-value store
//! (`note:<position>`), then HubSpot's note search for that property, so a
//! redelivered or replayed event never writes a second note.

use omni_plugin_sdk::prelude::*;
use omni_plugin_sdk::text::escape_xml;
use omni_plugin_sdk::{MessageDirection, TranscriptLine};
use serde::Deserialize;
use serde_json::json;

use crate::client::{self, Api};
use crate::errors;
use crate::state;
use omni_plugin_sdk::clock;

/// HubSpot's association type "note to contact".
pub const NOTE_TO_CONTACT: u32 = 202;

/// HubSpot's limit for `hs_note_body`, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;

/// Room kept for the line saying how many messages were left out.
const TRAILER_RESERVE: usize = 100;

/// Writes the transcript of a `conversation.resolved` event on the contact,
/// once. Returns the note id.
pub fn log_transcript(api: &Api, event: &DomainEvent, contact_id: &str) -> Result<String, IntegrationError> {
    let key = state::note_key(event.position);
    if let Some(note) = state::recall(&api.host, &key) {
        api.host
            .debug(&format!("event {} already has note {note} in HubSpot", event.position));
        return Ok(note);
    }
    let property = api.config.note_dedupe_property.as_str();
    let position = event.position.to_string();
    if let Some(note) = search(api, property, &position)? {
        api.host
            .debug(&format!("HubSpot already has note {note} for event {}", event.position));
        state::remember(&api.host, &key, &note);
        return Ok(note);
    }

    let mut properties = serde_json::Map::new();
    properties.insert("hs_timestamp".into(), clock::rfc3339(event.at).into());
    properties.insert("hs_note_body".into(), body(&event.transcript).into());
    properties.insert(property.to_owned(), position.into());
    let request = json!({
        "properties": properties,
        "associations": [{
            "to": { "id": contact_id },
            "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_CONTACT }],
        }],
    });
    let doing = format!("creating the transcript note on contact {contact_id}");
    let response = api.post("/crm/v3/objects/notes", &request, &doing)?;
    if !response.is_success() {
        return Err(hint_property(errors::classify(&api.host, &response, &doing), property));
    }
    let created: Created = client::read(&response, &doing)?;
    state::remember(&api.host, &key, &created.id);
    Ok(created.id)
}

/// `POST /crm/v3/objects/notes/search` for `{property} EQ {position}`.
fn search(api: &Api, property: &str, position: &str) -> Result<Option<String>, IntegrationError> {
    let body = json!({
        "filterGroups": [{ "filters": [{ "propertyName": property, "operator": "EQ", "value": position }] }],
        "properties": [property],
        "limit": 1,
    });
    let doing = format!("the note search by {property}");
    let response = api.post("/crm/v3/objects/notes/search", &body, &doing)?;
    if !response.is_success() {
        return Err(hint_property(errors::classify(&api.host, &response, &doing), property));
    }
    let page: SearchPage = client::read(&response, &doing)?;
    Ok(page.results.into_iter().next().map(|note| note.id))
}

/// A 400 naming the dedupe property almost always means it was never
/// created; say how to fix that.
fn hint_property(error: IntegrationError, property: &str) -> IntegrationError {
    match error {
        IntegrationError::Permanent { mut message } if message.contains(property) => {
            message.push_str(&format!(
                " (create the note property `{property}` in HubSpot: Settings > Properties > Note properties, \
                 single-line text; or set config `note_dedupe_property` to an existing one)"
            ));
            IntegrationError::Permanent { message }
        }
        other => other,
    }
}

/// The note body: one line per message, `[channel] Customer: text` or
/// `[channel] Agent: text`, HTML-escaped, joined by `<br>`. A transcript
/// longer than HubSpot's limit keeps its first messages and says how many
/// were left out.
pub fn body(transcript: &[TranscriptLine]) -> String {
    let budget = MAX_BODY_CHARS - TRAILER_RESERVE;
    let mut out = String::new();
    let mut used = 0;
    for (index, line) in transcript.iter().enumerate() {
        let separator = if index == 0 { "" } else { "<br>" };
        let rendered = render(line);
        let length = separator.len() + rendered.chars().count();
        if used + length <= budget {
            out.push_str(separator);
            out.push_str(&rendered);
            used += length;
            continue;
        }
        let room = budget.saturating_sub(used + separator.len() + 1);
        let cut = cut(&rendered, room);
        let mut omitted = transcript.len() - index;
        if !cut.is_empty() {
            out.push_str(separator);
            out.push_str(cut);
            out.push('…');
            omitted -= 1;
        }
        if omitted > 0 {
            let noun = if omitted == 1 { "message" } else { "messages" };
            out.push_str(&format!("<br>[{omitted} more {noun} not shown]"));
        }
        break;
    }
    out
}

/// One transcript line in HTML.
fn render(line: &TranscriptLine) -> String {
    let who = match line.direction {
        MessageDirection::Inbound => "Customer",
        MessageDirection::Outbound => "Agent",
    };
    let text = escape_xml(line.text.trim())
        .replace("\r\n", "<br>")
        .replace('\n', "<br>");
    format!("[{}] {who}: {text}", escape_xml(&line.channel))
}

/// The longest start of `html` with at most `max` characters that ends
/// outside an entity (`&amp;`) or a tag (`<br>`).
fn cut(html: &str, max: usize) -> &str {
    let mut end = 0;
    let mut inside = false;
    for (count, (at, c)) in html.char_indices().enumerate() {
        if count >= max {
            break;
        }
        match c {
            '&' | '<' => inside = true,
            ';' | '>' if inside => {
                inside = false;
                end = at + c.len_utf8();
                continue;
            }
            _ => {}
        }
        if !inside {
            end = at + c.len_utf8();
        }
    }
    &html[..end]
}

/// The part of HubSpot's answer to a note creation the plugin keeps.
#[derive(Debug, Deserialize)]
struct Created {
    id: String,
}

/// A page of note search results.
#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    results: Vec<Created>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(direction: MessageDirection, text: &str) -> TranscriptLine {
        TranscriptLine {
            direction,
            channel: "webchat".into(),
            text: text.into(),
            at: 0,
        }
    }

    #[test]
    fn lines_are_escaped_and_joined() {
        let transcript = [
            line(MessageDirection::Inbound, "Is <b>this</b> & that\nok?"),
            line(MessageDirection::Outbound, "Yes"),
        ];
        assert_eq!(
            body(&transcript),
            "[webchat] Customer: Is &lt;b&gt;this&lt;/b&gt; &amp; that<br>ok?<br>[webchat] Agent: Yes"
        );
        assert_eq!(body(&[]), "");
    }

    #[test]
    fn long_transcripts_fit_hubspots_limit() {
        let long = "&".repeat(20_000); // 100,000 characters once escaped
        let transcript = [
            line(MessageDirection::Inbound, "hello"),
            line(MessageDirection::Inbound, &long),
            line(MessageDirection::Outbound, "a"),
            line(MessageDirection::Outbound, "b"),
        ];
        let body = body(&transcript);
        assert!(body.chars().count() <= MAX_BODY_CHARS, "{}", body.chars().count());
        assert!(body.starts_with("[webchat] Customer: hello<br>[webchat] Customer: &amp;&amp;"));
        assert!(
            body.ends_with("&amp;…<br>[2 more messages not shown]"),
            "{}",
            &body[body.len() - 60..]
        );
    }

    #[test]
    fn cuts_keep_entities_and_tags_whole() {
        assert_eq!(cut("ab&amp;cd", 4), "ab");
        assert_eq!(cut("ab&amp;cd", 7), "ab&amp;");
        assert_eq!(cut("a<br>b", 3), "a");
        assert_eq!(cut("a<br>b", 5), "a<br>");
        assert_eq!(cut("éé", 1), "é");
        assert_eq!(cut("abc", 0), "");
    }
}
