//! The event log: every domain change, appended in the transaction that
//! makes it. Timelines are read from it; subscribers will follow it.

use sqlx::AnyConnection;

use crate::store::StoreError;
use crate::{ConversationId, MessageId, PersonId, Timestamp};

/// Event kinds.
pub mod kind {
    /// A person sent a message.
    pub const MESSAGE_RECEIVED: &str = "message.received";
    /// The business queued a reply.
    pub const MESSAGE_QUEUED: &str = "message.queued";
    /// An operator put a dead-lettered reply back in the outbox.
    pub const MESSAGE_REQUEUED: &str = "message.requeued";
    /// An outbound message's delivery status changed.
    pub const MESSAGE_STATUS: &str = "message.status";
    /// A call record arrived.
    pub const CALL_RECORDED: &str = "call.recorded";
    /// A conversation started.
    pub const CONVERSATION_OPENED: &str = "conversation.opened";
    /// A resolved conversation was reopened.
    pub const CONVERSATION_REOPENED: &str = "conversation.reopened";
    /// A conversation was resolved.
    pub const CONVERSATION_RESOLVED: &str = "conversation.resolved";
    /// A conversation's status, assignee or tags changed.
    pub const CONVERSATION_UPDATED: &str = "conversation.updated";
    /// The person wrote on another channel than before in the conversation.
    pub const CHANNEL_SWITCHED: &str = "conversation.channel_switched";
    /// A person was created.
    pub const PERSON_CREATED: &str = "person.created";
    /// Two persons became one.
    pub const PERSON_MERGED: &str = "person.merged";
    /// A person split into several.
    pub const PERSON_SPLIT: &str = "person.split";
    /// An identity joined a person.
    pub const IDENTITY_ADDED: &str = "identity.added";
    /// A satisfaction answer arrived.
    pub const CSAT_RECEIVED: &str = "csat.received";
}

/// An event to append.
pub struct NewEvent<'a> {
    /// Workspace.
    pub workspace: &'a str,
    /// One of [`kind`].
    pub kind: &'static str,
    /// The person it concerns.
    pub person: Option<PersonId>,
    /// The conversation it concerns.
    pub conversation: Option<ConversationId>,
    /// The message it concerns.
    pub message: Option<crate::MessageId>,
    /// Details.
    pub data: serde_json::Value,
    /// When.
    pub at: Timestamp,
}

/// Appends an event.
pub async fn append(tx: &mut AnyConnection, event: NewEvent<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO events (workspace, kind, person_id, conversation_id, message_id, data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event.workspace)
    .bind(event.kind)
    .bind(event.person.map(|p| p.to_string()))
    .bind(event.conversation.map(|c| c.to_string()))
    .bind(event.message.map(|m: MessageId| m.to_string()))
    .bind(event.data.to_string())
    .bind(event.at.as_millis())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
