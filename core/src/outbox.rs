//! Outbound messages waiting for the dispatcher, and what became of a send.

use serde::Serialize;

use crate::{Attachment, ConnectorId, ConversationId, IdentityKey, MessageId, MessageStatus, Timestamp};

/// An agent's reply to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbound {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Text.
    pub text: String,
    /// Attachments, by URL.
    pub attachments: Vec<Attachment>,
    /// The connector instance to send through; default: the one the person
    /// wrote through last in this conversation.
    pub connector: Option<ConnectorId>,
}

/// A claimed outbox row, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxJob {
    /// Outbox row id.
    pub id: i64,
    /// Attempt number, starting at 1; proves the claim when finishing.
    pub attempt: u32,
    /// The message.
    pub message_id: MessageId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Connector instance to send through.
    pub connector: ConnectorId,
    /// Where to send.
    pub recipient: IdentityKey,
    /// Text.
    pub text: String,
    /// Attachments.
    pub attachments: Vec<Attachment>,
    /// External id of the last inbound message on this connector.
    pub reply_to: Option<String>,
    /// The channel's thread id.
    pub thread_id: Option<String>,
}

/// What became of one send attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The provider accepted it.
    Sent {
        /// The provider's message id.
        external_id: String,
        /// Usually `sent`.
        status: MessageStatus,
    },
    /// Try again at `at`.
    Retry {
        /// Why it failed this time.
        error: String,
        /// When to retry.
        at: Timestamp,
    },
    /// Give up: the message is failed and the row dead-lettered.
    Failed {
        /// Why.
        error: String,
    },
}

/// A reply the dispatcher gave up on, waiting for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    /// Outbox row id; retry with it.
    pub id: i64,
    /// The message, now `failed`.
    pub message_id: MessageId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The connector instance it was sent through.
    pub connector: ConnectorId,
    /// Where it was going.
    pub recipient: IdentityKey,
    /// Attempts made.
    pub attempts: u32,
    /// The last error.
    pub error: String,
    /// Text of the reply.
    pub text: String,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// When the dispatcher gave up.
    pub dead_at: Option<Timestamp>,
}

/// Which dead letters to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQuery {
    /// Only this connector instance's.
    pub connector: Option<ConnectorId>,
    /// Only rows after this id (the last id of the previous page).
    pub after: Option<i64>,
    /// Page size.
    pub limit: u32,
}
