//! What the store holds: persons, identities, conversations and messages.

use serde::{Deserialize, Serialize};

use crate::{ConnectorId, ConversationId, IdentityKind, MessageId, PersonId, Timestamp};

/// The workspace used when the config names none.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Whether a message came from the person or went to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the person.
    Inbound,
    /// From the business.
    Outbound,
}

impl Direction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// What kind of timeline entry a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A written message.
    Text,
    /// A phone or video call record.
    Call,
}

impl MessageKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Call => "call",
        }
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// An inbound message, stored.
    Received,
    /// An outbound message waiting for the dispatcher.
    Queued,
    /// Accepted by the provider.
    Sent,
    /// Reached the person's device.
    Delivered,
    /// Seen by the person.
    Read,
    /// Could not be delivered.
    Failed,
}

impl MessageStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Received => "received",
            MessageStatus::Queued => "queued",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => MessageStatus::Received,
            "queued" => MessageStatus::Queued,
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "read" => MessageStatus::Read,
            "failed" => MessageStatus::Failed,
            _ => return None,
        })
    }

    /// Whether an outbound message may move from `self` to `next`: statuses
    /// only move forward, and a message already delivered cannot fail.
    pub fn can_advance_to(self, next: MessageStatus) -> bool {
        use MessageStatus::*;
        let rank = |s: MessageStatus| match s {
            Received => 0,
            Queued => 1,
            Sent => 2,
            Delivered => 3,
            Read => 4,
            Failed => 0,
        };
        match (self, next) {
            (Failed, _) => false,
            (Queued | Sent, Failed) => true,
            (_, Failed) => false,
            (current, next) => rank(next) > rank(current),
        }
    }
}

/// Whether a conversation needs the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Waiting for the business.
    Open,
    /// Waiting for the person (or a third party); still continues on a new message.
    Pending,
    /// Done; a new inbound message reopens it or starts a new one, per config.
    Resolved,
}

impl ConversationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Pending => "pending",
            ConversationStatus::Resolved => "resolved",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => ConversationStatus::Open,
            "pending" => ConversationStatus::Pending,
            "resolved" => ConversationStatus::Resolved,
            _ => return None,
        })
    }
}

/// A file attached to a message (metadata only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where the provider serves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// An identity attached to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonIdentity {
    /// Stable id of the identity.
    pub id: i64,
    /// Kind of identifier.
    pub kind: IdentityKind,
    /// Normalised value.
    pub value: String,
    /// Proven by a channel, a signature or a CRM.
    pub verified: bool,
    /// Who proved it (a connector instance id, `api`, `operator`).
    pub verified_by: Option<String>,
    /// Whether messages were sent from or to it.
    pub is_address: bool,
    /// When it was first seen.
    pub created_at: Timestamp,
}

/// One end of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityRef {
    /// Identity id.
    pub id: i64,
    /// Kind.
    pub kind: IdentityKind,
    /// Normalised value.
    pub value: String,
}

/// Who created a link or made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A connector instance, from an event.
    Connector,
    /// A client of the API.
    Api,
    /// An operator, by hand (API or CLI).
    Operator,
}

impl SourceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Connector => "connector",
            SourceKind::Api => "api",
            SourceKind::Operator => "operator",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "connector" => SourceKind::Connector,
            "api" => SourceKind::Api,
            "operator" => SourceKind::Operator,
            _ => return None,
        })
    }
}

/// Evidence that two identities belong to one person, with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Link {
    /// Link id; pass it to a split to remove the link.
    pub id: i64,
    /// One identity.
    pub from: IdentityRef,
    /// The other.
    pub to: IdentityRef,
    /// Trusted links make persons; untrusted ones are only recorded.
    pub trusted: bool,
    /// Who created it.
    pub source_kind: SourceKind,
    /// Which connector instance, client or operator.
    pub source: String,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: Timestamp,
}

/// Why two persons might be one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SuggestionReason {
    /// An unverified identifier one person stated belongs to the other.
    UnverifiedMatch,
    /// A trusted link would merge persons that hold different values of a unique kind.
    UniqueConflict,
    /// A trusted link would merge persons into one with too many identities of a kind.
    OverCap,
}

impl SuggestionReason {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionReason::UnverifiedMatch => "unverified_match",
            SuggestionReason::UniqueConflict => "unique_conflict",
            SuggestionReason::OverCap => "over_cap",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unverified_match" => SuggestionReason::UnverifiedMatch,
            "unique_conflict" => SuggestionReason::UniqueConflict,
            "over_cap" => SuggestionReason::OverCap,
            _ => return None,
        })
    }
}

/// A possible merge for an operator to review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suggestion {
    /// Suggestion id.
    pub id: i64,
    /// The person it was raised on.
    pub person_id: PersonId,
    /// The person it might be.
    pub other_person_id: PersonId,
    /// The identifier that matched.
    pub identity: Option<IdentityRef>,
    /// Why.
    pub reason: SuggestionReason,
    /// Details for the operator.
    pub detail: String,
    /// Connector instance or client that raised it.
    pub source: String,
    /// `open`, `accepted` or `dismissed`.
    pub status: String,
    /// When.
    pub created_at: Timestamp,
}

/// One merge, split or refusal, with who and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Entry id.
    pub id: i64,
    /// `merge`, `split`, `merge_refused`, `suggestion_dismissed`.
    pub action: String,
    /// Who: `connector:<id>`, `operator:<name>`.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// The person acted on.
    pub person_id: Option<PersonId>,
    /// The other person, for merges and splits.
    pub other_person_id: Option<PersonId>,
    /// Details.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
    /// When.
    pub created_at: Timestamp,
}

/// A person with everything known to identify them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    /// Id.
    pub id: PersonId,
    /// The workspace (tenant) the person belongs to.
    pub workspace: String,
    /// Best known name.
    pub display_name: Option<String>,
    /// First seen.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Identities that resolve to this person.
    pub identities: Vec<PersonIdentity>,
    /// Links among them and to unproven claims, with provenance.
    pub links: Vec<Link>,
    /// Persons merged into this one.
    pub merged_from: Vec<PersonId>,
}

/// A conversation thread with one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    /// Id.
    pub id: ConversationId,
    /// The workspace (tenant).
    pub workspace: String,
    /// The person.
    pub person_id: PersonId,
    /// Open, pending or resolved.
    pub status: ConversationStatus,
    /// Channel kind of the latest message, e.g. `webchat`.
    pub channel: String,
    /// Connector instance of the latest message.
    pub connector_id: ConnectorId,
    /// The agent or team it is assigned to.
    pub assignee: Option<String>,
    /// Labels.
    pub tags: Vec<String>,
    /// Started.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Time of the latest message.
    pub last_message_at: Timestamp,
    /// When the business first answered.
    pub first_response_at: Option<Timestamp>,
    /// When it was last resolved.
    pub resolved_at: Option<Timestamp>,
    /// How often it was reopened.
    pub reopen_count: i64,
}

/// Changes to a conversation; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConversationUpdate {
    /// New status.
    #[serde(default)]
    pub status: Option<ConversationStatus>,
    /// New assignee; an empty string unassigns.
    #[serde(default)]
    pub assignee: Option<String>,
    /// New tags (replacing the old ones).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Person.
    pub person_id: PersonId,
    /// Connector instance it came through or goes through.
    pub connector_id: ConnectorId,
    /// Channel kind, e.g. `webchat`.
    pub channel: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// Text or call.
    pub kind: MessageKind,
    /// Text.
    pub text: String,
    /// Attachment metadata.
    pub attachments: Vec<Attachment>,
    /// Extra channel data (call details).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: serde_json::Value,
    /// The provider's id.
    pub external_id: Option<String>,
    /// Delivery status.
    pub status: MessageStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// When the provider says it was sent.
    pub sent_at: Option<Timestamp>,
    /// When the host stored it.
    pub created_at: Timestamp,
    /// When the status last changed.
    pub status_at: Timestamp,
}

/// A conversation with its messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConversationDetail {
    /// The conversation.
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Messages, oldest first.
    pub messages: Vec<Message>,
}

/// One entry of a person's timeline: a message, a channel switch, a merge,
/// a delivery status, a CSAT answer, a conversation status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    /// Position in the event log; entries are in this order.
    pub position: i64,
    /// What happened, e.g. `message.received`, `person.merged`.
    pub kind: String,
    /// When.
    pub at: Timestamp,
    /// The conversation, when the entry is about one.
    pub conversation_id: Option<ConversationId>,
    /// The message, when the entry is about one.
    pub message_id: Option<MessageId>,
    /// Details, depending on the kind.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}

/// One page of a listing, with the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::MessageStatus::*;

    #[test]
    fn statuses_only_move_forward() {
        assert!(Queued.can_advance_to(Sent));
        assert!(Sent.can_advance_to(Read));
        assert!(!Read.can_advance_to(Delivered));
        assert!(Sent.can_advance_to(Failed));
        assert!(!Delivered.can_advance_to(Failed));
        assert!(!Failed.can_advance_to(Sent));
    }
}
