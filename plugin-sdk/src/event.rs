//! Normalised events a connector reports, and the identities they carry.

use serde::{Deserialize, Serialize};

/// What kind of identifier an [`Identity`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    /// An email address; the host normalises it.
    Email,
    /// A phone number; the host normalises it to E.164.
    Phone,
    /// A user id meaningful only on this channel; the host namespaces it.
    ChannelUser,
    /// A record id in a CRM.
    CrmId,
    /// The business's own customer id.
    ExternalId,
}

/// An identifier of a person as the channel saw it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// The kind of identifier.
    pub kind: IdentityKind,
    /// The identifier as given; the host normalises it.
    pub value: String,
    /// True only when the channel proved it (a signature, a provider check).
    #[serde(default)]
    pub verified: bool,
}

impl Identity {
    /// An unverified identity of the given kind.
    pub fn new(kind: IdentityKind, value: impl Into<String>) -> Self {
        Self {
            kind,
            value: value.into(),
            verified: false,
        }
    }

    /// A channel-specific user id, e.g. a web chat visitor id.
    pub fn channel_user(value: impl Into<String>) -> Self {
        Self::new(IdentityKind::ChannelUser, value)
    }

    /// An email address.
    pub fn email(value: impl Into<String>) -> Self {
        Self::new(IdentityKind::Email, value)
    }

    /// A phone number.
    pub fn phone(value: impl Into<String>) -> Self {
        Self::new(IdentityKind::Phone, value)
    }

    /// The business's own customer id.
    pub fn external_id(value: impl Into<String>) -> Self {
        Self::new(IdentityKind::ExternalId, value)
    }

    /// Marks the identity as proven by the channel.
    pub fn verified(mut self) -> Self {
        self.verified = true;
        self
    }
}

/// Metadata of an attached file; the host never stores the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where the provider serves the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A message a person sent to the business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The provider's message id, stable across the provider's retries.
    pub external_id: String,
    /// Who sent it, as the channel addresses them.
    pub sender: Identity,
    /// Further identifiers of the sender.
    #[serde(default)]
    pub claims: Vec<Identity>,
    /// Display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Plain text.
    pub text: String,
    /// Attachment metadata.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The channel's thread id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// External id of the message this one answers (`In-Reply-To`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// External ids of earlier messages of the thread (`References`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Send time by the provider's clock, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<i64>,
}

impl InboundMessage {
    /// A text message with no further detail.
    pub fn new(external_id: impl Into<String>, sender: Identity, text: impl Into<String>) -> Self {
        Self {
            external_id: external_id.into(),
            sender,
            claims: Vec::new(),
            display_name: None,
            text: text.into(),
            attachments: Vec::new(),
            thread_id: None,
            reply_to: None,
            references: Vec::new(),
            sent_at: None,
        }
    }

    /// Adds an identifier the sender stated.
    pub fn with_claim(mut self, identity: Identity) -> Self {
        self.claims.push(identity);
        self
    }

    /// Sets the display name.
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Sets the provider's send time.
    pub fn with_sent_at(mut self, millis: i64) -> Self {
        self.sent_at = Some(millis);
        self
    }
}

/// How far an outbound message got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryState {
    /// Accepted by the provider.
    Sent,
    /// Reached the person's device.
    Delivered,
    /// Seen by the person.
    Read,
    /// The provider gave up.
    Failed,
}

/// A delivery receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    /// The external id from the [`crate::SendReceipt`].
    pub external_id: String,
    /// The new state.
    pub state: DeliveryState,
    /// The provider's reason for a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it happened, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
}

impl DeliveryStatus {
    /// A receipt with no error and no time.
    pub fn new(external_id: impl Into<String>, state: DeliveryState) -> Self {
        Self {
            external_id: external_id.into(),
            state,
            error: None,
            at: None,
        }
    }
}

/// Profile information about a person, outside of any message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactProfile {
    /// The identity the profile belongs to.
    pub subject: Identity,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Further identifiers.
    #[serde(default)]
    pub claims: Vec<Identity>,
}

/// Ephemeral activity kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivityKind {
    /// The person is typing.
    Typing,
    /// The person opened the conversation.
    Seen,
}

/// A typing or seen indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Who is active.
    pub subject: Identity,
    /// What they do.
    pub kind: ActivityKind,
}

/// Direction of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallDirection {
    /// The person called.
    Inbound,
    /// The business called.
    Outbound,
}

/// A phone or video call record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The provider's call id.
    pub external_id: String,
    /// The person on the call.
    pub party: Identity,
    /// Who called whom.
    pub direction: CallDirection,
    /// Provider status, e.g. `completed`.
    pub status: String,
    /// Start, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// Duration in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Recording location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// Transcript text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript: Option<String>,
}

/// A customer-satisfaction answer about the person's latest conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsatAnswer {
    /// The provider's id of the answer; a repeat is dropped.
    pub external_id: String,
    /// Who answered.
    pub subject: Identity,
    /// The score, 1 to `scale`.
    pub score: u8,
    /// The top of the scale, e.g. 5.
    pub scale: u8,
    /// The person's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
}

/// Something a person did outside of a conversation, reported by an
/// integration (a checkout abandoned, an order placed). The host puts it on
/// the person's timeline and in the event log as `integration.<kind>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationEvent {
    /// The integration's id of this occurrence; a repeat is dropped.
    pub external_id: String,
    /// Who it concerns.
    pub subject: Identity,
    /// Further identifiers of the same person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<Identity>,
    /// What happened, lower case with dots, e.g. `checkout.abandoned`.
    pub kind: String,
    /// One line for agents.
    pub summary: String,
    /// Details as a JSON object.
    #[serde(default)]
    pub data: serde_json::Value,
    /// When, ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
}

impl IntegrationEvent {
    /// An event of `kind` about `subject`, with no claims, data or time.
    pub fn new(
        external_id: impl Into<String>,
        subject: Identity,
        kind: impl Into<String>,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            external_id: external_id.into(),
            subject,
            claims: Vec::new(),
            kind: kind.into(),
            summary: summary.into(),
            data: serde_json::Value::Object(Default::default()),
            at: None,
        }
    }
}

/// One normalised thing that happened on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// A person sent a message.
    MessageReceived(InboundMessage),
    /// A receipt for a message the business sent.
    DeliveryStatus(DeliveryStatus),
    /// Profile information.
    ContactProfile(ContactProfile),
    /// Typing or seen.
    Activity(Activity),
    /// A call record.
    CallRecord(CallRecord),
    /// A satisfaction answer.
    Csat(CsatAnswer),
    /// An integration's event about a person.
    Integration(IntegrationEvent),
}

impl From<IntegrationEvent> for Event {
    fn from(value: IntegrationEvent) -> Self {
        Event::Integration(value)
    }
}

impl From<InboundMessage> for Event {
    fn from(value: InboundMessage) -> Self {
        Event::MessageReceived(value)
    }
}

impl From<DeliveryStatus> for Event {
    fn from(value: DeliveryStatus) -> Self {
        Event::DeliveryStatus(value)
    }
}

impl From<ContactProfile> for Event {
    fn from(value: ContactProfile) -> Self {
        Event::ContactProfile(value)
    }
}

impl From<Activity> for Event {
    fn from(value: Activity) -> Self {
        Event::Activity(value)
    }
}

impl From<CsatAnswer> for Event {
    fn from(value: CsatAnswer) -> Self {
        Event::Csat(value)
    }
}

impl From<CallRecord> for Event {
    fn from(value: CallRecord) -> Self {
        Event::CallRecord(value)
    }
}
