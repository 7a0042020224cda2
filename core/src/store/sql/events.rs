//! The event log: every domain change, appended in the transaction that
//! makes it and given its position when that transaction commits
//! ([`seal`]). Timelines are read from it; subscribers follow it.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool};

use super::rows;
use crate::store::StoreError;
use crate::{ConversationId, LoggedEvent, MessageId, PersonId, Timestamp};

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
    /// Prefix of an integration's events, e.g. `integration.checkout.abandoned`.
    pub const INTEGRATION_PREFIX: &str = "integration.";
}

/// An event to append.
pub struct NewEvent<'a> {
    /// Workspace.
    pub workspace: &'a str,
    /// One of [`kind`].
    pub kind: &'a str,
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

/// Appends an event; it gets its position from [`seal`] at commit.
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

/// Gives the transaction's new events their positions, right before it
/// commits. The `event_head` row lock is held until the commit, so
/// transactions hand out positions in commit order and a reader never finds
/// a position below one it has already seen. Cheap when nothing was appended.
pub async fn seal(tx: &mut AnyConnection) -> Result<(), StoreError> {
    // On PostgreSQL the uncommitted rows of other transactions are invisible
    // here; on SQLite the single writer has no others.
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE position IS NULL")
        .fetch_one(&mut *tx)
        .await?;
    if count == 0 {
        return Ok(());
    }
    let head: i64 =
        sqlx::query_scalar("UPDATE event_head SET position = position + $1 WHERE id = 1 RETURNING position")
            .bind(count)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "UPDATE events SET position = numbered.position
         FROM (SELECT id, $1 + ROW_NUMBER() OVER (ORDER BY id) AS position FROM events WHERE position IS NULL) AS numbered
         WHERE events.id = numbered.id",
    )
    .bind(head - count)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

const LOGGED_COLUMNS: &str = "position, workspace, kind, person_id, conversation_id, message_id, data, created_at";

fn logged(row: &AnyRow) -> Result<LoggedEvent, StoreError> {
    Ok(LoggedEvent {
        position: rows::get(row, "position")?,
        workspace: rows::get(row, "workspace")?,
        kind: rows::get(row, "kind")?,
        person_id: rows::opt_id_col(row, "person_id")?,
        conversation_id: rows::opt_id_col(row, "conversation_id")?,
        message_id: rows::opt_id_col(row, "message_id")?,
        data: rows::json(&rows::get::<String>(row, "data")?)?,
        at: rows::time(row, "created_at")?,
    })
}

/// Up to `limit` events after `after`, in log order.
pub async fn after(pool: &AnyPool, after: i64, limit: u32) -> Result<Vec<LoggedEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {LOGGED_COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2"
    ))
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(logged).collect()
}

/// The events at these positions, in log order.
pub async fn at_positions(pool: &AnyPool, positions: &[i64]) -> Result<Vec<LoggedEvent>, StoreError> {
    if positions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {LOGGED_COLUMNS} FROM events WHERE position IN ({}) ORDER BY position",
        rows::placeholders(1, positions.len())
    );
    let mut query = sqlx::query(&sql);
    for position in positions {
        query = query.bind(*position);
    }
    query.fetch_all(pool).await?.iter().map(logged).collect()
}

/// The position of the newest committed event (0 for an empty log).
pub async fn head(pool: &AnyPool) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT position FROM event_head WHERE id = 1")
        .fetch_one(pool)
        .await?)
}
