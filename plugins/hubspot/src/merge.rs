//! Merges in Omni, reflected in HubSpot.
//!
//! When two persons who each had a contact become one, the survivor's
//! `records` hold both contact ids, oldest first. The plugin merges every
//! later contact into the first with `POST /crm/v3/objects/contacts/merge`,
//! so HubSpot, like Omni, ends with one record for the person.
//!
//! Merging cannot be undone in HubSpot and a contact merged away cannot be
//! merged again, so replays must not fail on it: merges done are kept in the
//! key-value store (`merged:<id>`), and when the store does not know, HubSpot's
//! refusal to merge a contact that is already merged or gone counts as done.

use omni_plugin_sdk::prelude::*;
use serde_json::json;

use crate::client::Api;
use crate::contacts::Contact;
use crate::errors::{self, ErrorBody};
use crate::state;

/// Merges all of the person's contacts into the first. Returns the contact
/// that remains, for the host to link, when HubSpot gave it a new id.
pub fn reflect(api: &Api, person: &Person) -> Result<EventOutcome, IntegrationError> {
    let Some((first, others)) = person.records.split_first() else {
        return Ok(EventOutcome::none());
    };
    let mut primary = first.clone();
    for other in others {
        if other == first || *other == primary {
            continue;
        }
        let key = state::merge_key(other);
        if let Some(into) = state::recall(&api.host, &key) {
            api.host
                .debug(&format!("contact {other} was already merged into {into}"));
            continue;
        }
        match merge(api, &primary, other)? {
            Merged::Into(survivor) => {
                api.host.info(&format!(
                    "merged HubSpot contact {other} into {primary} for person {}",
                    person.id
                ));
                state::remember(&api.host, &key, &survivor);
                // Later merges go into whatever HubSpot says survived.
                primary = survivor;
            }
            Merged::Already(reason) => {
                api.host.info(&format!(
                    "HubSpot contact {other} needs no merge into {primary} ({reason}); counting it as done"
                ));
                state::remember(&api.host, &key, &primary);
            }
        }
    }
    Ok(if person.records.contains(&primary) {
        EventOutcome::none()
    } else {
        EventOutcome::record(primary)
    })
}

/// What came of one merge request.
enum Merged {
    /// Done now; the surviving contact's id.
    Into(String),
    /// Nothing to do: done before, or the contact is gone. HubSpot's words.
    Already(String),
}

/// `POST /crm/v3/objects/contacts/merge` of `other` into `primary`.
fn merge(api: &Api, primary: &str, other: &str) -> Result<Merged, IntegrationError> {
    let body = json!({ "primaryObjectId": primary, "objectIdToMerge": other });
    let doing = format!("merging contact {other} into {primary}");
    let response = api.post("/crm/v3/objects/contacts/merge", &body, &doing)?;
    if response.is_success() {
        // The merge happened whatever the body says; without a readable id
        // the primary is the best guess of the survivor.
        let survivor = response
            .json_body::<Contact>()
            .map(|c| c.id)
            .unwrap_or_else(|_| primary.to_owned());
        return Ok(Merged::Into(survivor));
    }
    let error = ErrorBody::of(&response);
    if already_merged(&response, &error) {
        return Ok(Merged::Already(error.message_or_body(&response)));
    }
    Err(errors::classify(&api.host, &response, &doing))
}

/// Whether HubSpot's refusal means there is nothing left to merge: one of
/// the contacts no longer exists (404), or HubSpot says it was merged
/// already or would be merged with itself (a merged-away id now resolves to
/// the contact it went into). HubSpot documents no code for these, so the
/// message is read.
fn already_merged(response: &IncomingResponse, body: &ErrorBody) -> bool {
    if response.status == 404 {
        return true;
    }
    if !matches!(response.status, 400 | 409 | 422) {
        return false;
    }
    let message = body.message_or_body(response).to_ascii_lowercase();
    [
        "already merged",
        "was merged",
        "been merged",
        "not found",
        "does not exist",
        "itself",
        "same object",
    ]
    .iter()
    .any(|phrase| message.contains(phrase))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, message: &str) -> bool {
        let response = IncomingResponse::json(
            status,
            &json!({"status": "error", "message": message, "category": "VALIDATION_ERROR"}),
        );
        already_merged(&response, &ErrorBody::of(&response))
    }

    #[test]
    fn refusals_of_merged_or_missing_contacts_count_as_done() {
        assert!(refusal(400, "Object 602 was already merged into 512"));
        assert!(refusal(400, "Cannot merge an object with itself"));
        assert!(refusal(404, "resource not found"));
        assert!(refusal(400, "Object not found. objectId: 602"));
        assert!(!refusal(400, "Invalid input JSON on line 1"));
        assert!(!refusal(403, "This app hasn't been granted all required scopes"));
        assert!(!refusal(500, "already merged"));
    }
}
