//! Conversation continuity and status.
//!
//! An inbound message continues, in this order: the conversation of its
//! channel thread id; the conversation of a message it replies to or
//! references (email threading); the person's latest open or pending
//! conversation if it had a message within the window; the person's latest
//! resolved conversation, reopened if the config says so and it was resolved
//! recently enough. Otherwise a new conversation starts.

use sqlx::AnyConnection;

use super::events::{self, NewEvent, kind};
use super::rows;
use crate::store::{AfterResolved, StoreError, StoreOptions};
use crate::{Conversation, ConversationId, ConversationStatus, ConversationUpdate, PersonId, Timestamp};

/// Where a message arrived and what it says about its thread.
pub struct Arrival<'a> {
    /// Workspace.
    pub workspace: &'a str,
    /// Connector instance.
    pub connector: &'a str,
    /// Channel kind.
    pub channel: &'a str,
    /// The channel's thread id.
    pub thread_id: Option<&'a str>,
    /// External ids this message replies to or references.
    pub references: Vec<&'a str>,
    /// Now.
    pub now: Timestamp,
}

struct Candidate {
    id: ConversationId,
    person: PersonId,
    status: ConversationStatus,
    channel: String,
    last_message_at: Timestamp,
    resolved_at: Option<Timestamp>,
}

fn candidate(row: &sqlx::any::AnyRow) -> Result<Candidate, StoreError> {
    let status: String = rows::get(row, "status")?;
    Ok(Candidate {
        id: rows::id_col(row, "id")?,
        person: rows::id_col(row, "person_id")?,
        status: ConversationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("conversation status {status:?}")))?,
        channel: rows::get(row, "channel")?,
        last_message_at: rows::time(row, "last_message_at")?,
        resolved_at: rows::opt_time(row, "resolved_at")?,
    })
}

const CANDIDATE: &str = "c.id, c.person_id, c.status, c.channel, c.last_message_at, c.resolved_at";

/// The conversation an inbound message from `person` belongs to, opening or
/// reopening one as needed, with the message's effect on its status.
pub async fn for_inbound(
    tx: &mut AnyConnection,
    options: &StoreOptions,
    person: PersonId,
    arrival: &Arrival<'_>,
) -> Result<ConversationId, StoreError> {
    let threaded = threaded_conversation(tx, arrival).await?.filter(|c| c.person == person);
    let chosen = match threaded {
        // A reply in a thread continues it whatever its age or status.
        Some(c) => Some(c),
        None => {
            let row = sqlx::query(&format!(
                "SELECT {CANDIDATE} FROM conversations c WHERE c.person_id = $1 ORDER BY c.last_message_at DESC LIMIT 1"
            ))
            .bind(person.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            match row.map(|r| candidate(&r)).transpose()? {
                Some(c)
                    if c.status != ConversationStatus::Resolved
                        && c.last_message_at >= arrival.now.minus(options.conversation_window) =>
                {
                    Some(c)
                }
                Some(c) if c.status == ConversationStatus::Resolved => match options.after_resolved {
                    AfterResolved::Reopen(within)
                        if c.resolved_at.is_some_and(|at| at >= arrival.now.minus(within)) =>
                    {
                        Some(c)
                    }
                    _ => None,
                },
                _ => None,
            }
        }
    };
    let id = match chosen {
        Some(c) => {
            continue_conversation(tx, arrival, &c).await?;
            c.id
        }
        None => open(tx, arrival, person).await?,
    };
    if let Some(thread) = arrival.thread_id {
        sqlx::query(
            "INSERT INTO conversation_threads (connector_id, thread_id, conversation_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(arrival.connector)
        .bind(thread)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    }
    Ok(id)
}

async fn threaded_conversation(tx: &mut AnyConnection, arrival: &Arrival<'_>) -> Result<Option<Candidate>, StoreError> {
    if let Some(thread) = arrival.thread_id {
        let row = sqlx::query(&format!(
            "SELECT {CANDIDATE} FROM conversation_threads t JOIN conversations c ON c.id = t.conversation_id
             WHERE t.connector_id = $1 AND t.thread_id = $2"
        ))
        .bind(arrival.connector)
        .bind(thread)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            return Ok(Some(candidate(&row)?));
        }
    }
    if arrival.references.is_empty() {
        return Ok(None);
    }
    // The most recent of the referenced messages on this channel.
    let list = rows::placeholders(3, arrival.references.len());
    let sql = format!(
        "SELECT {CANDIDATE} FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE c.workspace = $1 AND m.channel = $2 AND m.external_id IN ({list})
         ORDER BY m.created_at DESC LIMIT 1"
    );
    let mut query = sqlx::query(&sql).bind(arrival.workspace).bind(arrival.channel);
    for reference in &arrival.references {
        query = query.bind(*reference);
    }
    query
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| candidate(&row))
        .transpose()
}

async fn continue_conversation(tx: &mut AnyConnection, arrival: &Arrival<'_>, c: &Candidate) -> Result<(), StoreError> {
    let now = arrival.now.as_millis();
    sqlx::query(
        "UPDATE conversations SET channel = $1, connector_id = $2, updated_at = $3, last_message_at = $3,
                first_inbound_at = COALESCE(first_inbound_at, $3) WHERE id = $4",
    )
    .bind(arrival.channel)
    .bind(arrival.connector)
    .bind(now)
    .bind(c.id.to_string())
    .execute(&mut *tx)
    .await?;
    if c.channel != arrival.channel {
        log(
            tx,
            arrival.now,
            arrival.workspace,
            kind::CHANNEL_SWITCHED,
            c.person,
            c.id,
            serde_json::json!({
                "from": c.channel, "to": arrival.channel, "connector_id": arrival.connector,
            }),
        )
        .await?;
    }
    match c.status {
        ConversationStatus::Resolved => {
            sqlx::query(
                "UPDATE conversations SET status = 'open', resolved_at = NULL, reopen_count = reopen_count + 1 WHERE id = $1",
            )
            .bind(c.id.to_string())
            .execute(&mut *tx)
            .await?;
            log(
                tx,
                arrival.now,
                arrival.workspace,
                kind::CONVERSATION_REOPENED,
                c.person,
                c.id,
                serde_json::json!({
                    "by": "inbound message", "channel": arrival.channel,
                }),
            )
            .await?;
        }
        ConversationStatus::Pending => {
            // The person answered: the business has work again.
            sqlx::query("UPDATE conversations SET status = 'open' WHERE id = $1")
                .bind(c.id.to_string())
                .execute(&mut *tx)
                .await?;
            log(
                tx,
                arrival.now,
                arrival.workspace,
                kind::CONVERSATION_UPDATED,
                c.person,
                c.id,
                serde_json::json!({
                    "status": "open", "by": "inbound message",
                }),
            )
            .await?;
        }
        ConversationStatus::Open => {}
    }
    Ok(())
}

async fn open(tx: &mut AnyConnection, arrival: &Arrival<'_>, person: PersonId) -> Result<ConversationId, StoreError> {
    let id = ConversationId::new();
    let now = arrival.now.as_millis();
    sqlx::query(
        "INSERT INTO conversations (id, workspace, person_id, status, channel, connector_id, first_channel,
                                    first_connector_id, created_at, updated_at, last_message_at, first_inbound_at)
         VALUES ($1, $2, $3, 'open', $4, $5, $4, $5, $6, $6, $6, $6)",
    )
    .bind(id.to_string())
    .bind(arrival.workspace)
    .bind(person.to_string())
    .bind(arrival.channel)
    .bind(arrival.connector)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    log(
        tx,
        arrival.now,
        arrival.workspace,
        kind::CONVERSATION_OPENED,
        person,
        id,
        serde_json::json!({
            "channel": arrival.channel, "connector_id": arrival.connector,
        }),
    )
    .await?;
    Ok(id)
}

async fn log(
    tx: &mut AnyConnection,
    at: Timestamp,
    workspace: &str,
    kind: &'static str,
    person: PersonId,
    conversation: ConversationId,
    data: serde_json::Value,
) -> Result<(), StoreError> {
    events::append(
        tx,
        NewEvent {
            workspace,
            kind,
            person: Some(person),
            conversation: Some(conversation),
            message: None,
            data,
            at,
        },
    )
    .await
}

/// Reads one conversation in a transaction.
pub async fn fetch(tx: &mut AnyConnection, id: ConversationId) -> Result<Conversation, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM conversations WHERE id = $1",
        rows::CONVERSATION_COLUMNS
    ))
    .bind(id.to_string())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("conversation {id}")))?;
    rows::conversation(&row)
}

/// Applies an agent's or integration's change of status, assignee or tags.
pub async fn update(
    tx: &mut AnyConnection,
    id: ConversationId,
    update: &ConversationUpdate,
    actor: &str,
    now: Timestamp,
) -> Result<Conversation, StoreError> {
    // Status transitions read, then write: hold the row.
    let lock = super::locks::for_update(tx);
    sqlx::query(&format!("SELECT id FROM conversations WHERE id = $1{lock}"))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let before = fetch(tx, id).await?;
    let now_ms = now.as_millis();
    if let Some(status) = update.status
        && status != before.status
    {
        let event = match (before.status, status) {
            (_, ConversationStatus::Resolved) => {
                sqlx::query(
                    "UPDATE conversations SET status = 'resolved', resolved_at = $2, updated_at = $2 WHERE id = $1",
                )
                .bind(id.to_string())
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                kind::CONVERSATION_RESOLVED
            }
            (ConversationStatus::Resolved, _) => {
                sqlx::query(
                    "UPDATE conversations SET status = $3, resolved_at = NULL, reopen_count = reopen_count + 1,
                            updated_at = $2 WHERE id = $1",
                )
                .bind(id.to_string())
                .bind(now_ms)
                .bind(status.as_str())
                .execute(&mut *tx)
                .await?;
                kind::CONVERSATION_REOPENED
            }
            _ => {
                sqlx::query("UPDATE conversations SET status = $3, updated_at = $2 WHERE id = $1")
                    .bind(id.to_string())
                    .bind(now_ms)
                    .bind(status.as_str())
                    .execute(&mut *tx)
                    .await?;
                kind::CONVERSATION_UPDATED
            }
        };
        log(
            tx,
            now,
            &before.workspace,
            event,
            before.person_id,
            id,
            serde_json::json!({
                "status": status, "previous": before.status, "by": actor,
            }),
        )
        .await?;
    }
    if let Some(assignee) = &update.assignee {
        let assignee = assignee.trim();
        let assignee = (!assignee.is_empty()).then_some(assignee);
        if assignee.map(str::to_owned) != before.assignee {
            sqlx::query("UPDATE conversations SET assignee = $2, updated_at = $3 WHERE id = $1")
                .bind(id.to_string())
                .bind(assignee)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            log(
                tx,
                now,
                &before.workspace,
                kind::CONVERSATION_UPDATED,
                before.person_id,
                id,
                serde_json::json!({
                    "assignee": assignee, "by": actor,
                }),
            )
            .await?;
        }
    }
    if let Some(tags) = &update.tags {
        let tags = normalize_tags(tags)?;
        if tags != before.tags {
            sqlx::query("UPDATE conversations SET tags = $2, updated_at = $3 WHERE id = $1")
                .bind(id.to_string())
                .bind(serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()))
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            log(
                tx,
                now,
                &before.workspace,
                kind::CONVERSATION_UPDATED,
                before.person_id,
                id,
                serde_json::json!({
                    "tags": tags, "by": actor,
                }),
            )
            .await?;
        }
    }
    fetch(tx, id).await
}

fn normalize_tags(tags: &[String]) -> Result<Vec<String>, StoreError> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || tag.len() > 64 || tag.chars().any(char::is_control) {
            return Err(StoreError::Invalid(format!(
                "tag {tag:?} must be 1 to 64 printable characters"
            )));
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_owned());
        }
    }
    if out.len() > 50 {
        return Err(StoreError::Invalid("a conversation takes at most 50 tags".into()));
    }
    Ok(out)
}

/// Recomputes a conversation's derived fields from its messages (after a
/// split moved messages in or out).
pub async fn recompute(tx: &mut AnyConnection, id: ConversationId) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE conversations SET
            created_at = COALESCE((SELECT MIN(created_at) FROM messages WHERE conversation_id = $1), created_at),
            last_message_at = COALESCE((SELECT MAX(created_at) FROM messages WHERE conversation_id = $1), last_message_at),
            first_inbound_at = (SELECT MIN(created_at) FROM messages WHERE conversation_id = $1 AND direction = 'inbound'),
            first_response_at = (SELECT MIN(o.created_at) FROM messages o WHERE o.conversation_id = $1
                                   AND o.direction = 'outbound' AND o.created_at >= (SELECT MIN(i.created_at) FROM messages i
                                   WHERE i.conversation_id = $1 AND i.direction = 'inbound')),
            outbound_count = (SELECT COUNT(*) FROM messages WHERE conversation_id = $1 AND direction = 'outbound'),
            channel = COALESCE((SELECT channel FROM messages WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1), channel),
            connector_id = COALESCE((SELECT connector_id FROM messages WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1), connector_id),
            first_channel = COALESCE((SELECT channel FROM messages WHERE conversation_id = $1 ORDER BY created_at, id LIMIT 1), first_channel),
            first_connector_id = COALESCE((SELECT connector_id FROM messages WHERE conversation_id = $1 ORDER BY created_at, id LIMIT 1), first_connector_id)
         WHERE id = $1",
    )
    .bind(id.to_string())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
