//! What the store holds: persons, identities, conversations and messages.

use serde::{Deserialize, Serialize};

use crate::{ConnectorId, ConversationId, IdentityKind, MessageId, PersonId, Timestamp};

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
    /// Waiting for or under work by the business.
    Open,
    /// Done; a new inbound message reopens or starts a conversation.
    Resolved,
}

impl ConversationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Resolved => "resolved",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => ConversationStatus::Open,
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
    /// Kind of identifier.
    pub kind: IdentityKind,
    /// Normalised value.
    pub value: String,
    /// Proven by a channel or signature.
    pub verified: bool,
    /// Who reported it: a connector instance id, `api` or `operator`.
    pub source: String,
    /// When it was first seen.
    pub created_at: Timestamp,
}

/// An identifier a person stated without proof; never used to link persons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityClaimRecord {
    /// Kind of identifier.
    pub kind: IdentityKind,
    /// Normalised value.
    pub value: String,
    /// Connector instance that reported it.
    pub source: String,
    /// When it was first stated.
    pub created_at: Timestamp,
}

/// A person with everything known to identify them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    /// Id.
    pub id: PersonId,
    /// Best known name.
    pub display_name: Option<String>,
    /// First seen.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Identities that resolve to this person.
    pub identities: Vec<PersonIdentity>,
    /// Unproven identifiers the person stated.
    pub claims: Vec<IdentityClaimRecord>,
}

/// A conversation thread with one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    /// Id.
    pub id: ConversationId,
    /// The person.
    pub person_id: PersonId,
    /// Open or resolved.
    pub status: ConversationStatus,
    /// Channel kind of the latest message, e.g. `webchat`.
    pub channel: String,
    /// Connector instance of the latest message.
    pub connector_id: ConnectorId,
    /// Started.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Time of the latest message.
    pub last_message_at: Timestamp,
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
