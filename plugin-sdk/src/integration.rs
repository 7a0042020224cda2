//! The trait a CRM or commerce integration implements, and what it sees of
//! the host's event log.

use serde::{Deserialize, Serialize};

use crate::{Host, Identity, IdentityKind, Manifest, PluginError, Request, WebhookOutcome};

/// A CRM or commerce integration. Like a [`crate::Channel`], it gets a fresh
/// instance for every call: keep state in the key-value store.
pub trait Integration {
    /// Describes the plugin; called once when the host loads it.
    fn manifest() -> Manifest;

    /// Takes one event of the host's log. Called at least once per event
    /// and in log order per person: make it idempotent, keyed on
    /// [`DomainEvent::position`] or on the service's own ids.
    fn on_event(host: &Host, event: DomainEvent) -> Result<EventOutcome, IntegrationError>;

    /// What the service knows about a person, for agents; `None` when nothing.
    fn lookup(host: &Host, person: Person) -> Result<Option<Profile>, IntegrationError> {
        let _ = (host, person);
        Ok(None)
    }

    /// Handles a request to `/hooks/{instance}/{path}` from the service.
    fn handle_webhook(host: &Host, request: Request) -> Result<WebhookOutcome, PluginError> {
        let _ = (host, request);
        Err(PluginError::NotFound("this integration takes no webhooks".to_owned()))
    }
}

/// A person as the host knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// The host's person id.
    pub id: String,
    /// Display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Every identifier, normalised (emails lower case, phones E.164).
    #[serde(default)]
    pub identities: Vec<Identity>,
    /// Ids of this integration instance's records linked to the person.
    #[serde(default)]
    pub records: Vec<String>,
}

impl Person {
    /// The person's identifiers of one kind, verified ones first.
    pub fn all(&self, kind: IdentityKind) -> Vec<&str> {
        let mut found: Vec<&Identity> = self.identities.iter().filter(|i| i.kind == kind).collect();
        found.sort_by_key(|i| !i.verified);
        found.into_iter().map(|i| i.value.as_str()).collect()
    }

    /// The person's first email address, verified ones first.
    pub fn email(&self) -> Option<&str> {
        self.all(IdentityKind::Email).first().copied()
    }

    /// The person's first phone number (E.164), verified ones first.
    pub fn phone(&self) -> Option<&str> {
        self.all(IdentityKind::Phone).first().copied()
    }

    /// The given name and family name, split at the first space.
    pub fn split_name(&self) -> (Option<&str>, Option<&str>) {
        match self.display_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            None => (None, None),
            Some(name) => match name.split_once(' ') {
                Some((first, last)) => (Some(first), Some(last.trim())),
                None => (Some(name), None),
            },
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageDirection {
    /// The person.
    Inbound,
    /// The business.
    Outbound,
}

/// One message of a conversation transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Who wrote it.
    pub direction: MessageDirection,
    /// The channel, e.g. `email`.
    pub channel: String,
    /// The text.
    pub text: String,
    /// When, ms since the Unix epoch.
    pub at: i64,
}

/// A change in the host's store, read from its event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Position in the log; the same on every replay.
    pub position: i64,
    /// What happened, e.g. `person.created`, `conversation.resolved`.
    pub kind: String,
    /// When, ms since the Unix epoch.
    pub at: i64,
    /// The person it concerns, as they are now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    /// The conversation it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The message it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Details, depending on the kind.
    #[serde(default)]
    pub data: serde_json::Value,
    /// For `conversation.resolved`: the conversation's messages, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<TranscriptLine>,
}

impl DomainEvent {
    /// A string field of [`DomainEvent::data`].
    pub fn data_str(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(|v| v.as_str())
    }
}

/// What an integration did with an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventOutcome {
    /// Ids of the integration's records that belong to the event's person;
    /// the host links them to the person.
    #[serde(default)]
    pub records: Vec<String>,
}

impl EventOutcome {
    /// Nothing to report.
    pub fn none() -> Self {
        Self::default()
    }

    /// The person's record in the service.
    pub fn record(id: impl Into<String>) -> Self {
        Self {
            records: vec![id.into()],
        }
    }
}

/// One order, from a commerce integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The shop's order id.
    pub id: String,
    /// The order's name as customers see it, e.g. `#1001`.
    pub name: String,
    /// `open`, `closed` or `cancelled`.
    pub status: String,
    /// Payment state, e.g. `paid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub financial_status: Option<String>,
    /// Shipping state, e.g. `fulfilled`; none when unfulfilled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_status: Option<String>,
    /// Total as a decimal string.
    pub total: String,
    /// ISO 4217 currency code.
    pub currency: String,
    /// When placed, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Where customers track it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What an integration knows about a person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The service's record id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Account owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Lifecycle stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_stage: Option<String>,
    /// Where an agent opens the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Recent orders, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orders: Vec<Order>,
    /// Further fields, as name and value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<(String, String)>,
}

/// Why an integration call failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntegrationError {
    /// Worth retrying later (service down, rate limited).
    Retryable {
        /// Why, for the operator.
        message: String,
        /// The service's hint of when to retry, in ms.
        after_ms: Option<u64>,
    },
    /// Retrying cannot help.
    Permanent {
        /// Why.
        message: String,
    },
}

impl IntegrationError {
    /// A retryable failure without a hint.
    pub fn retryable(message: impl Into<String>) -> Self {
        IntegrationError::Retryable {
            message: message.into(),
            after_ms: None,
        }
    }

    /// A permanent failure.
    pub fn permanent(message: impl Into<String>) -> Self {
        IntegrationError::Permanent {
            message: message.into(),
        }
    }
}

impl From<crate::SendError> for IntegrationError {
    fn from(error: crate::SendError) -> Self {
        match error {
            crate::SendError::Retryable { message, after_ms } => IntegrationError::Retryable { message, after_ms },
            crate::SendError::Permanent { message } => IntegrationError::Permanent { message },
        }
    }
}

impl std::fmt::Display for IntegrationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntegrationError::Retryable { message, .. } => write!(f, "retryable: {message}"),
            IntegrationError::Permanent { message } => write!(f, "permanent: {message}"),
        }
    }
}

impl From<crate::HttpError> for IntegrationError {
    fn from(error: crate::HttpError) -> Self {
        crate::SendError::from(error).into()
    }
}
