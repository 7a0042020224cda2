//! What HubSpot knows about a person, for the agent's side panel: the
//! linked contact (or the one found by email or phone), its company,
//! lifecycle stage and owner, and a link to the record.

use omni_plugin_sdk::prelude::*;
use serde::Deserialize;

use crate::client::{self, Api};
use crate::contacts::{self, Contact};

/// The contact properties a profile shows.
pub const LOOKUP_PROPERTIES: [&str; 7] = [
    "firstname",
    "lastname",
    "email",
    "phone",
    "company",
    "lifecyclestage",
    "hubspot_owner_id",
];

/// The person's profile; `None` when HubSpot has no contact for them.
/// Nothing is created: a lookup only reads.
pub fn lookup(api: &Api, person: &Person) -> Result<Option<Profile>, IntegrationError> {
    let contact = match person.records.first() {
        Some(id) => match contacts::get(api, id, &LOOKUP_PROPERTIES)? {
            Some(contact) => Some(contact),
            // The linked contact was deleted in HubSpot; another may match.
            None => contacts::find(api, person, &LOOKUP_PROPERTIES)?,
        },
        None => contacts::find(api, person, &LOOKUP_PROPERTIES)?,
    };
    Ok(contact.map(|contact| profile(api, &contact)))
}

fn profile(api: &Api, contact: &Contact) -> Profile {
    let name = [contact.property("firstname"), contact.property("lastname")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let owner = contact.property("hubspot_owner_id").and_then(|id| owner(api, id));
    let attributes = ["email", "phone"]
        .into_iter()
        .filter_map(|name| contact.property(name).map(|value| (name.to_owned(), value.to_owned())))
        .collect();
    Profile {
        record_id: Some(contact.id.clone()),
        name: Some(name).filter(|n| !n.is_empty()),
        company: contact.property("company").map(str::to_owned),
        owner,
        lifecycle_stage: contact.property("lifecyclestage").map(stage_label),
        url: api.config.record_url(&contact.id),
        orders: Vec::new(),
        attributes,
    }
}

/// The owner's name (or email) from `GET /crm/v3/owners/{id}`. The profile
/// is useful without it, so any failure (a missing `crm.objects.owners.read`
/// scope, say) only leaves the owner out.
fn owner(api: &Api, id: &str) -> Option<String> {
    let doing = format!("reading owner {id}");
    let response = match api.get(&format!("/crm/v3/owners/{}", client::segment(id)), &doing) {
        Ok(response) => response,
        Err(e) => {
            api.host.debug(&format!("no owner name: {e}"));
            return None;
        }
    };
    if !response.is_success() {
        api.host.debug(&format!(
            "no owner name: HubSpot answered {} to {doing}",
            response.status
        ));
        return None;
    }
    let owner: Owner = response.json_body().ok()?;
    let name = [owner.first_name.as_deref(), owner.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        owner.email.filter(|e| !e.trim().is_empty())
    } else {
        Some(name)
    }
}

/// HubSpot's label for its built-in lifecycle stages; custom stages (numeric
/// ids) and unknown values are shown as they are.
fn stage_label(stage: &str) -> String {
    match stage {
        "subscriber" => "Subscriber",
        "lead" => "Lead",
        "marketingqualifiedlead" => "Marketing Qualified Lead",
        "salesqualifiedlead" => "Sales Qualified Lead",
        "opportunity" => "Opportunity",
        "customer" => "Customer",
        "evangelist" => "Evangelist",
        "other" => "Other",
        other => other,
    }
    .to_owned()
}

/// The part of an owner the profile shows.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Owner {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}
