//! Enrichment: what each integration knows about a person (CRM profile,
//! orders), asked with `lookup`, cached in the store for the instance's
//! `lookup_ttl` and shown on `GET /v1/persons/{id}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use omni_core::{IngestBatch, Person, Store, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::connector::Connector;
use crate::runtime::bindings::wit;
use crate::subscribers::view;

/// One order, as agents see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    /// The shop's order id.
    pub id: String,
    /// The order's name, e.g. `#1001`.
    pub name: String,
    /// `open`, `closed` or `cancelled`.
    pub status: String,
    /// Payment state.
    pub financial_status: Option<String>,
    /// Shipping state.
    pub fulfillment_status: Option<String>,
    /// Total, a decimal string.
    pub total: String,
    /// Currency code.
    pub currency: String,
    /// When it was placed.
    pub created_at: Option<Timestamp>,
    /// Where the customer tracks it.
    pub url: Option<String>,
}

/// What an integration knows about a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProfileData {
    /// The integration's record id.
    pub record_id: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Account owner.
    pub owner: Option<String>,
    /// Lifecycle stage.
    pub lifecycle_stage: Option<String>,
    /// Where an agent opens the record.
    pub url: Option<String>,
    /// Recent orders, newest first.
    pub orders: Vec<OrderView>,
    /// Further fields.
    pub attributes: BTreeMap<String, String>,
}

/// One integration's answer about a person, with its age.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProfileView {
    /// The profile; absent when the integration knows nothing of the person.
    pub profile: Option<ProfileData>,
    /// When the integration was asked.
    pub fetched_at: Option<Timestamp>,
    /// True when this is an older answer because asking again failed.
    pub stale: bool,
    /// Why asking failed, when it did.
    pub error: Option<String>,
}

fn from_wit(p: wit::Profile) -> ProfileData {
    let text = |s: String, max: usize| s.chars().take(max).collect::<String>();
    ProfileData {
        record_id: p.record_id.map(|s| text(s, 255)),
        name: p.name.map(|s| text(s, 200)),
        company: p.company.map(|s| text(s, 200)),
        owner: p.owner.map(|s| text(s, 200)),
        lifecycle_stage: p.lifecycle_stage.map(|s| text(s, 100)),
        url: p.url.map(|s| text(s, 2000)),
        orders: p
            .orders
            .into_iter()
            .take(50)
            .map(|o| OrderView {
                id: text(o.id, 255),
                name: text(o.name, 100),
                status: text(o.status, 50),
                financial_status: o.financial_status.map(|s| text(s, 50)),
                fulfillment_status: o.fulfillment_status.map(|s| text(s, 50)),
                total: text(o.total, 50),
                currency: text(o.currency, 10),
                created_at: o.created_at.map(Timestamp::from_millis),
                url: o.url.map(|s| text(s, 2000)),
            })
            .collect(),
        attributes: p
            .attributes
            .into_iter()
            .take(50)
            .map(|(k, v)| (text(k, 100), text(v, 1000)))
            .collect(),
    }
}

/// Every integration's profile of `person` (of its workspace), from the
/// cache while fresh, else asked again; the integrations are asked at once.
pub async fn profiles(
    store: &Arc<dyn Store>,
    integrations: Vec<Arc<dyn Connector>>,
    ttls: &BTreeMap<omni_core::ConnectorId, Duration>,
    person: &Person,
) -> BTreeMap<String, ProfileView> {
    let lookups = integrations
        .into_iter()
        .filter(|c| c.workspace() == person.workspace)
        .map(|connector| {
            let ttl = ttls.get(connector.id()).copied().unwrap_or(Duration::from_secs(600));
            async move {
                let view = profile(store, connector.as_ref(), ttl, person).await;
                (connector.id().to_string(), view)
            }
        });
    futures_util::future::join_all(lookups).await.into_iter().collect()
}

async fn profile(store: &Arc<dyn Store>, connector: &dyn Connector, ttl: Duration, person: &Person) -> ProfileView {
    let id = connector.id();
    let cached = store.cached_profile(id, person.id).await.ok().flatten();
    let now = Timestamp::now();
    if let Some((data, fetched_at)) = &cached
        && now.as_millis() - fetched_at.as_millis() < ttl.as_millis() as i64
    {
        return ProfileView {
            profile: data.clone().and_then(|d| serde_json::from_value(d).ok()),
            fetched_at: Some(*fetched_at),
            stale: false,
            error: None,
        };
    }
    let failure = |error: String| ProfileView {
        profile: cached
            .as_ref()
            .and_then(|(d, _)| d.clone())
            .and_then(|d| serde_json::from_value(d).ok()),
        fetched_at: cached.as_ref().map(|(_, at)| *at),
        stale: cached.is_some(),
        error: Some(error),
    };
    let Some(integration) = connector.integration() else {
        return failure("not an integration".into());
    };
    let output = match integration.lookup(view::person(person, id)).await {
        Ok(output) => output,
        Err(e) => return failure(format!("lookup failed: {e}")),
    };
    if !output.kv.writes.is_empty() {
        // Tokens refreshed during the lookup; losing them only costs a refresh.
        let batch = IngestBatch {
            workspace: connector.workspace().to_owned(),
            connector: id.clone(),
            channel: connector.manifest().channel.clone(),
            events: Vec::new(),
            kv: output.kv,
        };
        if let Err(e) = store.ingest(batch).await {
            tracing::debug!(integration = %id, "lookup state not stored: {e}");
        }
    }
    let profile = match output.value {
        Ok(profile) => profile.map(from_wit),
        Err(wit::IntegrationError::Retryable(r)) => return failure(r.message),
        Err(wit::IntegrationError::Permanent(m)) => return failure(m),
    };
    let json = profile.as_ref().and_then(|p| serde_json::to_value(p).ok());
    if let Err(e) = store.store_profile(id, person.id, json).await {
        tracing::warn!(integration = %id, "cannot cache a profile: {e}");
    }
    ProfileView {
        profile,
        fetched_at: Some(now),
        stale: false,
        error: None,
    }
}
