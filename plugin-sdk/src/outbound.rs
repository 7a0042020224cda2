//! Messages the business sends, and what the provider answered.

use serde::{Deserialize, Serialize};

use crate::{Attachment, DeliveryState, Event};

/// A message the business sends to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// The host's message id; stable across retries, use it as idempotency key.
    pub id: String,
    /// The host's conversation id.
    pub conversation_id: String,
    /// Plain text.
    pub text: String,
    /// Attachments to send, by URL.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// External id of the last inbound message here, for threading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The channel's thread id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
}

impl OutboundMessage {
    /// A text message, for tests.
    pub fn text(id: &str, conversation_id: &str, text: &str) -> Self {
        Self {
            id: id.to_owned(),
            conversation_id: conversation_id.to_owned(),
            text: text.to_owned(),
            attachments: Vec::new(),
            reply_to: None,
            thread_id: None,
        }
    }
}

/// The provider's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReceipt {
    /// The provider's message id; delivery statuses refer to it.
    pub external_id: String,
    /// Usually [`DeliveryState::Sent`].
    pub state: DeliveryState,
}

impl SendReceipt {
    /// Accepted by the provider.
    pub fn sent(external_id: impl Into<String>) -> Self {
        Self {
            external_id: external_id.into(),
            state: DeliveryState::Sent,
        }
    }
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SendError {
    /// Worth retrying later.
    Retryable {
        /// Why.
        message: String,
        /// The provider's hint, in ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_ms: Option<u64>,
    },
    /// Retrying cannot help.
    Permanent {
        /// Why.
        message: String,
    },
}

impl SendError {
    /// A retryable error without a hint.
    pub fn retryable(message: impl Into<String>) -> Self {
        SendError::Retryable {
            message: message.into(),
            after_ms: None,
        }
    }

    /// A permanent error.
    pub fn permanent(message: impl Into<String>) -> Self {
        SendError::Permanent {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Retryable { message, .. } => write!(f, "retryable: {message}"),
            SendError::Permanent { message } => write!(f, "permanent: {message}"),
        }
    }
}

impl std::error::Error for SendError {}

/// What a poll returned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollBatch {
    /// New events.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Cursor for the next poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
