//! A person as a Contact or Lead, upserted by external ID.
//!
//! `PATCH /sobjects/{object}/{external_id_field}/{person id}` creates the
//! record the first time and updates it afterwards, so a replayed event
//! never creates a second record. Salesforce answers 201 (created) or 200
//! (updated), both with `{"id", "success", "errors", "created"}`; API
//! versions before 46.0 answer an update with 204 and no body, and then the
//! id is read back by external ID.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api::Api;
use crate::config::{Config, PersonObject};
use crate::errors;

/// Salesforce's field lengths: longer values are refused (`STRING_TOO_LONG`),
/// so they are cut instead.
const FIRST_NAME_MAX: usize = 40;
const LAST_NAME_MAX: usize = 80;
const EMAIL_MAX: usize = 80;
const PHONE_MAX: usize = 40;
const COMPANY_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 32_000;

/// Key-value key remembering the record upserted for a person, so later
/// events (a resolved conversation) know its id without asking Salesforce.
pub fn record_key(object: PersonObject, person_id: &str) -> String {
    format!("record/{}/{person_id}", object.name())
}

/// The person's own record id, when this instance already knows it: the one
/// upserted for them, else the first record the host linked to them.
pub fn known_record(api: &Api, person: &Person) -> Option<String> {
    let key = record_key(api.config.object, &person.id);
    let remembered = api.host().kv_get(&key).ok().flatten().and_then(|bytes| {
        String::from_utf8(bytes)
            .ok()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
    });
    remembered.or_else(|| person.records.iter().find(|id| !id.trim().is_empty()).cloned())
}

/// The fields Omni sends. Name, email and phone reflect Omni's view of the
/// person. Values that only exist to satisfy Salesforce's required fields
/// (a `LastName` made from the email when there is no name, a Lead's
/// placeholder `Company`) are sent only when the record may be new, so they
/// never overwrite what sales people typed into an existing record.
pub fn person_fields(config: &Config, person: &Person, creating: bool) -> Value {
    let mut fields = Map::new();
    match person.split_name() {
        (Some(first), Some(last)) if !last.is_empty() => {
            fields.insert("FirstName".into(), json!(cut(first, FIRST_NAME_MAX)));
            fields.insert("LastName".into(), json!(cut(last, LAST_NAME_MAX)));
        }
        (Some(name), _) => {
            fields.insert("LastName".into(), json!(cut(name, LAST_NAME_MAX)));
        }
        _ if creating => {
            let stand_in = person
                .email()
                .filter(|e| !e.trim().is_empty())
                .or(person.phone().filter(|p| !p.trim().is_empty()))
                .map(str::to_owned)
                .unwrap_or_else(|| format!("Omni person {}", person.id));
            fields.insert("LastName".into(), json!(cut(&stand_in, LAST_NAME_MAX)));
        }
        _ => {}
    }
    if let Some(email) = person.email().filter(|e| !e.trim().is_empty()) {
        fields.insert("Email".into(), json!(cut(email, EMAIL_MAX)));
    }
    if let Some(phone) = person.phone().filter(|p| !p.trim().is_empty()) {
        fields.insert("Phone".into(), json!(cut(phone, PHONE_MAX)));
    }
    if creating && config.object == PersonObject::Lead {
        fields.insert("Company".into(), json!(cut(&config.lead_company, COMPANY_MAX)));
    }
    Value::Object(fields)
}

/// Upserts the person's Contact or Lead and returns its id.
pub fn upsert(api: &mut Api, person: &Person) -> Result<String, IntegrationError> {
    let object = api.config.object.name();
    let url = api
        .config
        .by_external_id(object, &api.config.external_id_field, &person.id);
    let what = format!("upserting {object} {}={}", api.config.external_id_field, person.id);
    let known = known_record(api, person).is_some();
    let body = person_fields(&api.config, person, !known);
    let mut response = api.patch(&url, &body)?;
    if known && response.status == 400 && errors::has_code(&response, "REQUIRED_FIELD_MISSING") {
        // The record Omni knew of is gone (deleted in Salesforce), so this
        // upsert creates one and needs the creation-only fields after all.
        let full = person_fields(&api.config, person, true);
        if full != body {
            api.host()
                .debug(&format!("{what}: the record is new after all; sending required fields"));
            response = api.patch(&url, &full)?;
        }
    }
    let id = upserted_id(api, &response, &url, &what)?;
    // Writes count against the call's kv quota: only when the id is new.
    let key = record_key(api.config.object, &person.id);
    if api.host().kv_get(&key).ok().flatten().as_deref() != Some(id.as_bytes())
        && let Err(e) = api.host().kv_set(&key, id.as_bytes())
    {
        api.host().debug(&format!("could not remember record {id}: {e}"));
    }
    Ok(id)
}

/// `{"id": "003…", "success": true, "errors": [], "created": true}`.
#[derive(Deserialize)]
struct UpsertResult {
    id: Option<String>,
    #[serde(default)]
    created: Option<bool>,
}

/// `{"attributes": {...}, "Id": "003…"}`.
#[derive(Deserialize)]
struct RecordId {
    #[serde(rename = "Id")]
    id: String,
}

/// The record id of an upsert answer.
fn upserted_id(api: &mut Api, response: &IncomingResponse, url: &str, what: &str) -> Result<String, IntegrationError> {
    match response.status {
        200 | 201 => {
            if let Some(result) = response.json_body::<UpsertResult>().ok().filter(|r| r.id.is_some()) {
                let id = result.id.unwrap_or_default();
                let verb = match result.created {
                    Some(true) => "created",
                    Some(false) => "updated",
                    None => "upserted",
                };
                api.host().debug(&format!("{what}: {verb} {id}"));
                return Ok(id);
            }
            read_id(api, url, what)
        }
        204 => read_id(api, url, what),
        300 => Err(IntegrationError::permanent(format!(
            "Salesforce answered 300 while {what}: several records share that external ID; mark the field \
             Unique and merge the duplicates in Salesforce"
        ))),
        _ => Err(errors::classify(response, what)),
    }
}

/// Reads a record's id by external ID, after an update that answered 204.
fn read_id(api: &mut Api, url: &str, what: &str) -> Result<String, IntegrationError> {
    let response = api.get(&format!("{url}?fields=Id"))?;
    if !response.is_success() {
        return Err(errors::classify(&response, &format!("{what} (reading the id back)")));
    }
    response
        .json_body::<RecordId>()
        .map(|r| r.id)
        .ok()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            IntegrationError::permanent(format!(
                "Salesforce's answer while {what} has no record id: {}",
                response.text().chars().take(200).collect::<String>()
            ))
        })
}

/// After a merge in Omni, notes on the merged-away person's record that it
/// now belongs to the survivor. The REST API cannot merge Contacts or Leads
/// (merging is a SOAP API call or Apex), so the record stays and the
/// operator merges it in Salesforce. Nothing to do when it does not exist.
pub fn mark_merged(api: &mut Api, merged: &str, survivor: &str) -> Result<(), IntegrationError> {
    let object = api.config.object.name();
    let lookup = format!(
        "{}?fields=Id",
        api.config.by_external_id(object, &api.config.external_id_field, merged)
    );
    let what = format!("marking {object} {}={merged} as merged", api.config.external_id_field);
    let response = api.get(&lookup)?;
    // The merged person's id is gone from Omni; forget its record either way.
    let _ = api.host().kv_delete(&record_key(api.config.object, merged));
    match response.status {
        404 => {
            api.host().debug(&format!("{what}: no such record, nothing to do"));
            return Ok(());
        }
        200 => {}
        _ => return Err(errors::classify(&response, &what)),
    }
    let Some(id) = response
        .json_body::<RecordId>()
        .ok()
        .map(|r| r.id)
        .filter(|id| !id.is_empty())
    else {
        return Err(IntegrationError::permanent(format!(
            "Salesforce's answer while {what} has no record id"
        )));
    };
    // By record id, not by external ID: a PATCH by external ID would create
    // a record if this one was deleted in the meantime.
    let url = format!(
        "{}/sobjects/{object}/{}",
        api.config.data_url(),
        crate::config::percent_encode(&id)
    );
    let note = cut(&format!("Merged into Omni person {survivor}"), DESCRIPTION_MAX);
    let response = api.patch(&url, &json!({ "Description": note }))?;
    match response.status {
        200..=299 | 404 => Ok(()),
        _ => Err(errors::classify(&response, &what)),
    }
}

/// At most `max` characters.
pub fn cut(value: &str, max: usize) -> String {
    value.trim().chars().take(max).collect()
}
