//! What Salesforce knows about a person, for agents.
//!
//! One SOQL query by external ID:
//! `SELECT Id, Name, Email, Phone, Title, Owner.Name, Account.Name FROM Contact
//! WHERE Omni_Person_Id__c = '<person id>' LIMIT 1` (a Lead reads `Company`
//! and `Status` instead of `Account.Name`). A query rather than the sObject
//! Rows resource, because only SOQL follows relationships (`Owner.Name`,
//! `Account.Name`) in the same call; no match is an empty result, not a 404.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use crate::api::Api;
use crate::config::{PersonObject, percent_encode};
use crate::errors;

/// The `/query` answer: `{"totalSize": 1, "done": true, "records": [...]}`.
#[derive(Deserialize)]
struct QueryResult {
    #[serde(default)]
    records: Vec<Value>,
}

/// The SOQL that finds a person's record.
pub fn soql(object: PersonObject, external_id_field: &str, person_id: &str) -> String {
    let fields = match object {
        PersonObject::Contact => "Id, Name, Email, Phone, Title, Owner.Name, Account.Name",
        PersonObject::Lead => "Id, Name, Email, Phone, Title, Owner.Name, Company, Status",
    };
    format!(
        "SELECT {fields} FROM {} WHERE {external_id_field} = '{}' LIMIT 1",
        object.name(),
        escape(person_id)
    )
}

/// Escapes a SOQL string literal's content.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            other => out.push(other),
        }
    }
    out
}

/// The person's profile, or `None` when Salesforce has no record for them.
pub fn lookup(api: &mut Api, person: &Person) -> Result<Option<Profile>, IntegrationError> {
    let object = api.config.object;
    let query = soql(object, &api.config.external_id_field, &person.id);
    let url = format!("{}/query?q={}", api.config.data_url(), percent_encode(&query));
    let response = api.get(&url)?;
    let what = format!(
        "looking up {} {}={}",
        object.name(),
        api.config.external_id_field,
        person.id
    );
    if !response.is_success() {
        return Err(errors::classify(&response, &what));
    }
    let result: QueryResult = response
        .json_body()
        .map_err(|e| IntegrationError::retryable(format!("Salesforce's answer while {what} is unreadable: {e}")))?;
    let Some(record) = result.records.first() else {
        return Ok(None);
    };
    let text = |path: &[&str]| -> Option<String> {
        let mut value = record;
        for key in path {
            value = value.get(key)?;
        }
        value
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let Some(id) = text(&["Id"]) else {
        return Ok(None);
    };
    let mut profile = Profile {
        url: Some(api.config.record_link(object.name(), &id)),
        record_id: Some(id),
        name: text(&["Name"]),
        owner: text(&["Owner", "Name"]),
        ..Profile::default()
    };
    match object {
        PersonObject::Contact => {
            profile.company = text(&["Account", "Name"]);
            profile.lifecycle_stage = Some("customer".to_owned());
        }
        PersonObject::Lead => {
            profile.company = text(&["Company"]);
            profile.lifecycle_stage = text(&["Status"]);
        }
    }
    if let Some(title) = text(&["Title"]) {
        profile.attributes.push(("Title".to_owned(), title));
    }
    Ok(Some(profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_ids_cannot_break_out_of_the_literal() {
        assert_eq!(
            soql(PersonObject::Contact, "Omni_Person_Id__c", "x' OR Name != '\\"),
            "SELECT Id, Name, Email, Phone, Title, Owner.Name, Account.Name FROM Contact \
             WHERE Omni_Person_Id__c = 'x\\' OR Name != \\'\\\\' LIMIT 1"
        );
    }
}
