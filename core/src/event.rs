//! Normalised channel events, as the host hands them to the store.

use crate::{Attachment, ConnectorId, Direction, IdentityKey, KvChanges, MessageStatus, Timestamp};

/// An identifier attached to an event, with whether the channel proved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityClaim {
    /// The normalised identifier.
    pub key: IdentityKey,
    /// Proven by the channel (signature, provider check).
    pub verified: bool,
}

/// A message a person sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The provider's id; unique per connector instance.
    pub external_id: String,
    /// The channel address of the sender.
    pub sender: IdentityClaim,
    /// Further identifiers of the sender.
    pub claims: Vec<IdentityClaim>,
    /// Display name.
    pub display_name: Option<String>,
    /// Text.
    pub text: String,
    /// Attachment metadata.
    pub attachments: Vec<Attachment>,
    /// The channel's thread id.
    pub thread_id: Option<String>,
    /// External id of the message answered (`In-Reply-To`).
    pub reply_to: Option<String>,
    /// External ids of earlier messages of the thread (`References`).
    pub references: Vec<String>,
    /// The provider's send time.
    pub sent_at: Option<Timestamp>,
}

/// A delivery receipt for an outbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    /// The external id from the send receipt.
    pub external_id: String,
    /// Sent, delivered, read or failed.
    pub status: MessageStatus,
    /// The provider's reason for a failure.
    pub error: Option<String>,
    /// When it happened.
    pub at: Option<Timestamp>,
}

/// Profile information about a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// The identity the profile belongs to.
    pub subject: IdentityClaim,
    /// Display name.
    pub display_name: Option<String>,
    /// Further identifiers.
    pub claims: Vec<IdentityClaim>,
}

/// A call record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEvent {
    /// The provider's call id.
    pub external_id: String,
    /// The person on the call.
    pub party: IdentityClaim,
    /// Who called whom.
    pub direction: Direction,
    /// Provider status.
    pub status: String,
    /// Start time.
    pub started_at: Option<Timestamp>,
    /// Duration in ms.
    pub duration_ms: Option<u64>,
    /// Recording location.
    pub recording_url: Option<String>,
    /// Transcript.
    pub transcript: Option<String>,
}

/// A customer-satisfaction answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsatEvent {
    /// The provider's id of the answer.
    pub external_id: String,
    /// Who answered.
    pub subject: IdentityClaim,
    /// The score, 1 to `scale`.
    pub score: u8,
    /// The top of the scale.
    pub scale: u8,
    /// The person's comment.
    pub comment: Option<String>,
    /// When.
    pub at: Option<Timestamp>,
}

/// Something a person did outside of a conversation, reported by an
/// integration; logged as `integration.<kind>` on the person's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationActivity {
    /// The integration's id of this occurrence; a repeat is dropped.
    pub external_id: String,
    /// Who it concerns.
    pub subject: IdentityClaim,
    /// Further identifiers of the same person.
    pub claims: Vec<IdentityClaim>,
    /// What happened, e.g. `checkout.abandoned` (checked by the host).
    pub kind: String,
    /// One line for agents.
    pub summary: String,
    /// Details, a JSON object.
    pub data: serde_json::Value,
    /// When it happened.
    pub at: Option<Timestamp>,
}

/// One event to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundEvent {
    /// A person sent a message.
    Message(InboundMessage),
    /// A delivery receipt.
    Delivery(DeliveryUpdate),
    /// Profile information.
    Profile(ProfileUpdate),
    /// A call record.
    Call(CallEvent),
    /// A satisfaction answer.
    Csat(CsatEvent),
    /// An integration's event about a person.
    Integration(IntegrationActivity),
}

/// Everything one plugin call produced, stored in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestBatch {
    /// The workspace (tenant) of the connector instance; identities never
    /// link across workspaces.
    pub workspace: String,
    /// The connector instance.
    pub connector: ConnectorId,
    /// Its channel kind, e.g. `webchat`.
    pub channel: String,
    /// Events in order.
    pub events: Vec<InboundEvent>,
    /// Key-value reads to check and writes to apply.
    pub kv: KvChanges,
}

/// What an ingest stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// New messages (and call records).
    pub messages: Vec<crate::MessageId>,
    /// Events dropped because their external id was already stored.
    pub duplicates: usize,
    /// Delivery receipts that changed a message.
    pub statuses_applied: usize,
    /// Delivery receipts for unknown or already further messages.
    pub statuses_ignored: usize,
    /// Receipts for sends not recorded yet, kept until they are.
    pub statuses_early: usize,
    /// Satisfaction answers stored.
    pub csat_answers: usize,
    /// Integration events stored.
    pub activities: usize,
}
