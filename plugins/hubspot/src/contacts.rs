//! Contacts: finding the person's HubSpot contact (search before create),
//! creating it, and adding an email address or phone number learnt later.
//!
//! HubSpot keeps one contact per email address and refuses a second with
//! `409 CONFLICT` ("Contact already exists. Existing ID: 123"); its search
//! index lags writes by a few seconds. So a contact is looked up by email,
//! then by phone, before it is created, and a conflict is read as the
//! answer to the search that came too early. Phone numbers are not unique
//! in HubSpot: the search by phone takes the first match.

use std::collections::BTreeMap;

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::json;

use crate::client::{self, Api};
use crate::config::CreateContacts;
use crate::errors::{self, ErrorBody};

/// The properties read when linking a person.
pub const CONTACT_PROPERTIES: [&str; 4] = ["email", "firstname", "lastname", "phone"];

/// A contact as HubSpot returns it: an id and the properties asked for.
#[derive(Debug, Clone, Deserialize)]
pub struct Contact {
    /// HubSpot's record id.
    pub id: String,
    /// Property values; HubSpot sends `null` for empty ones.
    #[serde(default)]
    pub properties: BTreeMap<String, Option<String>>,
}

impl Contact {
    /// A property's value, `None` when absent or blank.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .get(name)
            .and_then(|v| v.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

/// A page of search results.
#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    results: Vec<Contact>,
}

/// The person's contact id: the first linked record, else a contact found
/// by email or phone, else a new one (unless `create_contacts = "never"`).
/// `None` for a person without email and phone, or when nothing may be created.
pub fn ensure(api: &Api, person: &Person) -> Result<Option<String>, IntegrationError> {
    // Records are oldest first; after a merge in Omni the first one is the
    // survivor HubSpot merged the others into.
    if let Some(id) = person.records.first() {
        return Ok(Some(id.clone()));
    }
    if person.email().is_none() && person.phone().is_none() {
        api.host.debug(&format!(
            "person {} has no email or phone yet; no HubSpot contact",
            person.id
        ));
        return Ok(None);
    }
    if let Some(contact) = find(api, person, &CONTACT_PROPERTIES)? {
        return Ok(Some(contact.id));
    }
    if api.config.create_contacts == CreateContacts::Never {
        api.host.debug(&format!(
            "no HubSpot contact matches person {} and create_contacts is \"never\"",
            person.id
        ));
        return Ok(None);
    }
    create(api, person).map(Some)
}

/// The first contact with the person's email, else with their phone number.
pub fn find(api: &Api, person: &Person, properties: &[&str]) -> Result<Option<Contact>, IntegrationError> {
    if let Some(email) = person.email()
        && let Some(contact) = search(api, "email", email, properties)?
    {
        return Ok(Some(contact));
    }
    if let Some(phone) = person.phone()
        && let Some(contact) = search(api, "phone", phone, properties)?
    {
        return Ok(Some(contact));
    }
    Ok(None)
}

/// `POST /crm/v3/objects/contacts/search` for `property = value`.
pub fn search(
    api: &Api,
    property: &str,
    value: &str,
    properties: &[&str],
) -> Result<Option<Contact>, IntegrationError> {
    let body = json!({
        "filterGroups": [{ "filters": [{ "propertyName": property, "operator": "EQ", "value": value }] }],
        "properties": properties,
        "limit": 1,
    });
    let doing = format!("the contact search by {property}");
    let response = api.post("/crm/v3/objects/contacts/search", &body, &doing)?;
    if !response.is_success() {
        return Err(errors::classify(&api.host, &response, &doing));
    }
    let page: SearchPage = client::read(&response, &doing)?;
    Ok(page.results.into_iter().next())
}

/// `POST /crm/v3/objects/contacts` with what Omni knows of the person.
pub fn create(api: &Api, person: &Person) -> Result<String, IntegrationError> {
    let mut properties = serde_json::Map::new();
    let (first, last) = person.split_name();
    let known = [
        ("email", person.email()),
        ("firstname", first),
        ("lastname", last),
        ("phone", person.phone()),
    ];
    for (name, value) in known {
        if let Some(value) = value {
            properties.insert(name.to_owned(), value.into());
        }
    }
    let doing = "creating a contact";
    let response = api.post("/crm/v3/objects/contacts", &json!({ "properties": properties }), doing)?;
    if response.status == 409 {
        let body = ErrorBody::of(&response);
        if let Some(id) = body.message.as_deref().and_then(existing_id) {
            api.host.info(&format!(
                "HubSpot already has contact {id} for person {}; linking it",
                person.id
            ));
            return Ok(id);
        }
        // The search will find the contact once HubSpot has indexed it.
        return Err(IntegrationError::Retryable {
            message: errors::describe(&response, &body, doing),
            after_ms: response.retry_after_ms(),
        });
    }
    if !response.is_success() {
        return Err(errors::classify(&api.host, &response, doing));
    }
    let created: Contact = client::read(&response, doing)?;
    api.host.info(&format!(
        "created HubSpot contact {} for person {}",
        created.id, person.id
    ));
    Ok(created.id)
}

/// The id in HubSpot's conflict message, "Contact already exists. Existing ID: 123".
pub fn existing_id(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("Existing ID:")?;
    let id: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    (!id.is_empty()).then_some(id)
}

/// `GET /crm/v3/objects/contacts/{id}?properties=…`; `None` when HubSpot has
/// no such contact (deleted, or an id of another account).
pub fn get(api: &Api, id: &str, properties: &[&str]) -> Result<Option<Contact>, IntegrationError> {
    let path = format!(
        "/crm/v3/objects/contacts/{}?properties={}",
        client::segment(id),
        properties.join(",")
    );
    let doing = format!("reading contact {id}");
    let response = api.get(&path, &doing)?;
    if response.status == 404 {
        return Ok(None);
    }
    if !response.is_success() {
        return Err(errors::classify(&api.host, &response, &doing));
    }
    client::read(&response, &doing).map(Some)
}

/// Sets an email address or phone number Omni learnt on the linked contact,
/// when the contact has none: HubSpot's value is never overwritten, since an
/// agent may have typed it and HubSpot has one primary email per contact.
pub fn add_identity(api: &Api, record: &str, kind: &str, value: &str) -> Result<(), IntegrationError> {
    let property = match kind {
        "email" => "email",
        "phone" => "phone",
        _ => return Ok(()),
    };
    let Some(contact) = get(api, record, &[property])? else {
        api.host.warn(&format!(
            "HubSpot has no contact {record} (deleted?); the new {property} is not copied to it"
        ));
        return Ok(());
    };
    if let Some(current) = contact.property(property) {
        if !current.eq_ignore_ascii_case(value) {
            api.host.debug(&format!(
                "contact {record} keeps its {property}; Omni's new one is not copied"
            ));
        }
        return Ok(());
    }
    let doing = format!("setting the {property} of contact {record}");
    let body = json!({ "properties": { property: value } });
    let response = api.patch(
        &format!("/crm/v3/objects/contacts/{}", client::segment(record)),
        &body,
        &doing,
    )?;
    if response.status == 409 {
        // Another contact holds this email: a duplicate in HubSpot that an
        // operator resolves there (or an Omni merge reflects); retrying cannot help.
        let body = ErrorBody::of(&response);
        api.host.warn(&format!(
            "{}; the {property} stays on the other contact",
            errors::describe(&response, &body, &doing)
        ));
        return Ok(());
    }
    if !response.is_success() {
        return Err(errors::classify(&api.host, &response, &doing));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_existing_id_is_read_from_the_conflict_message() {
        assert_eq!(
            existing_id("Contact already exists. Existing ID: 37765128953").as_deref(),
            Some("37765128953")
        );
        assert_eq!(
            existing_id("Contact already exists. Existing ID: 51.").as_deref(),
            Some("51")
        );
        assert_eq!(existing_id("Contact already exists."), None);
        assert_eq!(existing_id("Existing ID: x"), None);
    }
}
