//! Outbound messages: the outbox the dispatcher claims from.

use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::AnyPool;

use super::events::{self, NewEvent, kind};
use super::ingest::{self, NewMessageRow};
use super::{kv, rows};
use crate::store::StoreError;
use crate::{
    ConnectorId, DeadLetter, DeadLetterQuery, DeliveryUpdate, Direction, IdentityKey, KvChanges, Message, MessageKind,
    MessageStatus, NewOutbound, OutboxJob, SendOutcome, Timestamp,
};

/// Stores a reply as `queued` with its outbox row. It goes to the person's
/// address on the requested connector, else where they wrote last.
pub async fn enqueue(tx: &mut AnyConnection, outbound: &NewOutbound, now: Timestamp) -> Result<Message, StoreError> {
    let conversation = super::conversations::fetch(tx, outbound.conversation_id).await?;
    let connector = outbound.connector.as_ref().map(|c| c.as_str());
    let last_inbound = sqlx::query(
        "SELECT m.connector_id, m.channel, m.external_id, m.thread_id, m.identity_id, i.kind, i.value
         FROM messages m JOIN identities i ON i.id = m.identity_id
         WHERE m.person_id = $1 AND m.direction = 'inbound' AND ($2 IS NULL OR m.connector_id = $2)
         ORDER BY m.created_at DESC, m.id DESC LIMIT 1",
    )
    .bind(conversation.person_id.to_string())
    .bind(connector)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| match &outbound.connector {
        Some(connector) => StoreError::Invalid(format!(
            "the person has never written through connector {connector}, so there is no address to reply to there"
        )),
        None => StoreError::Invalid("the person has no inbound message to reply to".to_owned()),
    })?;
    let connector: String = rows::get(&last_inbound, "connector_id")?;
    let channel: String = rows::get(&last_inbound, "channel")?;
    let recipient_kind: String = rows::get(&last_inbound, "kind")?;
    let recipient_value: String = rows::get(&last_inbound, "value")?;
    let reply_to: Option<String> = rows::get(&last_inbound, "external_id")?;
    let thread_id: Option<String> = rows::get(&last_inbound, "thread_id")?;
    let id = ingest::insert_message(
        tx,
        NewMessageRow {
            conversation_id: outbound.conversation_id,
            person_id: conversation.person_id,
            connector: &connector,
            channel: &channel,
            direction: Direction::Outbound,
            kind: MessageKind::Text,
            identity_id: rows::get(&last_inbound, "identity_id")?,
            text: &outbound.text,
            attachments: &outbound.attachments,
            metadata: None,
            external_id: None,
            thread_id: thread_id.as_deref(),
            reply_to: reply_to.as_deref(),
            status: MessageStatus::Queued,
            sent_at: None,
            now,
        },
    )
    .await?;
    sqlx::query(
        "INSERT INTO outbox (message_id, conversation_id, connector_id, recipient_kind, recipient_value,
                             state, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)",
    )
    .bind(id.to_string())
    .bind(outbound.conversation_id.to_string())
    .bind(&connector)
    .bind(&recipient_kind)
    .bind(&recipient_value)
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await?;
    // The first reply after the person wrote is the first response.
    sqlx::query(
        "UPDATE conversations SET updated_at = $1, last_message_at = $1, outbound_count = outbound_count + 1,
                first_response_at = CASE WHEN first_response_at IS NULL AND first_inbound_at IS NOT NULL
                                         THEN $1 ELSE first_response_at END
         WHERE id = $2",
    )
    .bind(now.as_millis())
    .bind(outbound.conversation_id.to_string())
    .execute(&mut *tx)
    .await?;
    events::append(
        tx,
        NewEvent {
            workspace: &conversation.workspace,
            kind: kind::MESSAGE_QUEUED,
            person: Some(conversation.person_id),
            conversation: Some(outbound.conversation_id),
            message: Some(id),
            data: serde_json::json!({ "channel": channel, "connector_id": connector, "text": outbound.text }),
            at: now,
        },
    )
    .await?;
    let row = sqlx::query(&format!("SELECT {} FROM messages WHERE id = $1", rows::MESSAGE_COLUMNS))
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
    rows::message(&row)
}

/// Claims due rows: oldest first, one per conversation, leased; rows of the
/// `skip`ped connectors (busy or out of rate) stay where they are.
pub async fn claim(
    tx: &mut AnyConnection,
    now: Timestamp,
    lease: Duration,
    limit: u32,
    skip: &[ConnectorId],
) -> Result<Vec<OutboxJob>, StoreError> {
    // Hosts sharing a database skip rows another host is claiming.
    let skip_locked = if super::locks::concurrent(tx) {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE outbox SET lease_until = $1, attempts = attempts + 1
         WHERE id IN (
             SELECT o.id FROM outbox o
             WHERE o.state = 'pending' AND o.next_attempt_at <= $2
               AND (o.lease_until IS NULL OR o.lease_until <= $2){}
               AND NOT EXISTS (SELECT 1 FROM outbox p
                               WHERE p.conversation_id = o.conversation_id AND p.state = 'pending' AND p.id < o.id)
             ORDER BY o.id LIMIT $3{skip_locked})
         RETURNING id, attempts, message_id, conversation_id, connector_id, recipient_kind, recipient_value",
        not_in_connectors(4, skip)
    );
    let mut query = sqlx::query(&sql)
        .bind(now.plus(lease).as_millis())
        .bind(now.as_millis())
        .bind(i64::from(limit));
    for connector in skip {
        query = query.bind(connector.as_str());
    }
    let claimed = query.fetch_all(&mut *tx).await?;
    let mut jobs = Vec::with_capacity(claimed.len());
    for row in claimed {
        let message_id: String = rows::get(&row, "message_id")?;
        let message = sqlx::query("SELECT text, attachments, reply_to, thread_id FROM messages WHERE id = $1")
            .bind(&message_id)
            .fetch_one(&mut *tx)
            .await?;
        jobs.push(OutboxJob {
            id: rows::get(&row, "id")?,
            attempt: rows::get::<i64>(&row, "attempts")? as u32,
            message_id: rows::id(&message_id)?,
            conversation_id: rows::id_col(&row, "conversation_id")?,
            connector: rows::connector(&rows::get::<String>(&row, "connector_id")?)?,
            recipient: IdentityKey::from_normalized(
                rows::kind(&rows::get::<String>(&row, "recipient_kind")?)?,
                rows::get::<String>(&row, "recipient_value")?,
            ),
            text: rows::get(&message, "text")?,
            attachments: rows::json(&rows::get::<String>(&message, "attachments")?)?,
            reply_to: rows::get(&message, "reply_to")?,
            thread_id: rows::get(&message, "thread_id")?,
        });
    }
    // Oldest first, as claimed.
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// Records the result of a send.
pub async fn finish(
    tx: &mut AnyConnection,
    job: &OutboxJob,
    outcome: &SendOutcome,
    kv: &KvChanges,
    at: Timestamp,
) -> Result<(), StoreError> {
    // The claim is ours only while nobody re-claimed the row.
    let lock = super::locks::for_update(tx);
    let ours: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT id FROM outbox WHERE id = $1 AND attempts = $2 AND state = 'pending'{lock}"
    ))
    .bind(job.id)
    .bind(i64::from(job.attempt))
    .fetch_optional(&mut *tx)
    .await?;
    if ours.is_none() {
        return Err(StoreError::LeaseLost(job.id));
    }
    kv::check_and_apply(tx, &job.connector, kv, at).await?;
    let now = at.as_millis();
    let message = sqlx::query(
        "SELECT m.id, m.status, m.person_id, m.conversation_id, c.workspace FROM messages m
         JOIN conversations c ON c.id = m.conversation_id WHERE m.id = $1",
    )
    .bind(job.message_id.to_string())
    .fetch_one(&mut *tx)
    .await?;
    let workspace: String = rows::get(&message, "workspace")?;
    match outcome {
        SendOutcome::Sent { external_id, status } => {
            sqlx::query("DELETE FROM outbox WHERE id = $1")
                .bind(job.id)
                .execute(&mut *tx)
                .await?;
            // A receipt may already have moved the message further; keep the furthest status.
            let current = rows::status(&rows::get::<String>(&message, "status")?)?;
            let status = if current.can_advance_to(*status) {
                *status
            } else {
                current
            };
            sqlx::query(
                "UPDATE messages SET external_id = $1, status = $2, status_at = $3, sent_at = $3, error = NULL WHERE id = $4",
            )
            .bind(external_id)
            .bind(status.as_str())
            .bind(now)
            .bind(job.message_id.to_string())
            .execute(&mut *tx)
            .await?;
            if status != current {
                ingest::status_event(tx, &workspace, &message, status, None, at).await?;
            }
            apply_early_receipts(tx, job.connector.as_str(), external_id, &workspace, &message, status).await?;
        }
        SendOutcome::Retry { error, at } => {
            sqlx::query("UPDATE outbox SET next_attempt_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3")
                .bind(at.as_millis())
                .bind(error)
                .bind(job.id)
                .execute(&mut *tx)
                .await?;
        }
        SendOutcome::Failed { error } => {
            sqlx::query(
                "UPDATE outbox SET state = 'dead', lease_until = NULL, last_error = $1, dead_at = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(now)
            .bind(job.id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE messages SET status = 'failed', error = $1, status_at = $2 WHERE id = $3")
                .bind(error)
                .bind(now)
                .bind(job.message_id.to_string())
                .execute(&mut *tx)
                .await?;
            ingest::status_event(tx, &workspace, &message, MessageStatus::Failed, Some(error), at).await?;
        }
    }
    Ok(())
}

/// When the next claimable row of a connector not in `skip` becomes due.
pub async fn next_due(pool: &AnyPool, skip: &[ConnectorId]) -> Result<Option<Timestamp>, StoreError> {
    // Rows waiting behind an earlier reply of their conversation are not
    // due: they become claimable when that one finishes.
    let sql = format!(
        "SELECT MIN(CASE WHEN o.lease_until IS NOT NULL AND o.lease_until > o.next_attempt_at
                         THEN o.lease_until ELSE o.next_attempt_at END)
         FROM outbox o
         WHERE o.state = 'pending'{}
           AND NOT EXISTS (SELECT 1 FROM outbox p
                           WHERE p.conversation_id = o.conversation_id AND p.state = 'pending' AND p.id < o.id)",
        not_in_connectors(1, skip)
    );
    let mut query = sqlx::query_scalar(&sql);
    for connector in skip {
        query = query.bind(connector.as_str());
    }
    let due: Option<i64> = query.fetch_one(pool).await?;
    Ok(due.map(Timestamp::from_millis))
}

/// ` AND o.connector_id NOT IN ($first, ...)`, or nothing for no connectors.
fn not_in_connectors(first: usize, skip: &[ConnectorId]) -> String {
    if skip.is_empty() {
        return String::new();
    }
    let params: Vec<String> = (first..first + skip.len()).map(|i| format!("${i}")).collect();
    format!(" AND o.connector_id NOT IN ({})", params.join(", "))
}

/// Gives a claimed row back untried: the attempt does not count.
pub async fn release(tx: &mut AnyConnection, job: &OutboxJob) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET lease_until = NULL, attempts = attempts - 1
         WHERE id = $1 AND attempts = $2 AND state = 'pending'",
    )
    .bind(job.id)
    .bind(i64::from(job.attempt))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Dead-lettered replies, oldest first, after the row id `after`.
pub async fn dead_letters(pool: &AnyPool, query: &DeadLetterQuery) -> Result<Vec<DeadLetter>, StoreError> {
    let rows = sqlx::query(
        "SELECT o.id, o.message_id, o.conversation_id, o.connector_id, o.recipient_kind, o.recipient_value,
                o.attempts, o.last_error, o.dead_at, o.created_at, m.text
         FROM outbox o JOIN messages m ON m.id = o.message_id
         WHERE o.state = 'dead' AND ($1 IS NULL OR o.connector_id = $1) AND o.id > $2
         ORDER BY o.id LIMIT $3",
    )
    .bind(query.connector.as_ref().map(|c| c.as_str()))
    .bind(query.after.unwrap_or(0))
    .bind(i64::from(query.limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DeadLetter {
                id: rows::get(row, "id")?,
                message_id: rows::id_col(row, "message_id")?,
                conversation_id: rows::id_col(row, "conversation_id")?,
                connector: rows::connector(&rows::get::<String>(row, "connector_id")?)?,
                recipient: IdentityKey::from_normalized(
                    rows::kind(&rows::get::<String>(row, "recipient_kind")?)?,
                    rows::get::<String>(row, "recipient_value")?,
                ),
                attempts: rows::get::<i64>(row, "attempts")? as u32,
                error: rows::get::<Option<String>>(row, "last_error")?.unwrap_or_default(),
                queued_at: Timestamp::from_millis(rows::get(row, "created_at")?),
                dead_at: rows::get::<Option<i64>>(row, "dead_at")?.map(Timestamp::from_millis),
                text: rows::get(row, "text")?,
            })
        })
        .collect()
}

/// Puts a dead-lettered reply back in the outbox, due now, with a fresh
/// attempt budget; the message is `queued` again.
pub async fn retry_dead(tx: &mut AnyConnection, id: i64, actor: &str, now: Timestamp) -> Result<Message, StoreError> {
    let lock = super::locks::for_update(tx);
    let row = sqlx::query(&format!(
        "SELECT o.message_id, o.last_error, c.workspace, m.person_id, m.conversation_id FROM outbox o
         JOIN messages m ON m.id = o.message_id JOIN conversations c ON c.id = m.conversation_id
         WHERE o.id = $1 AND o.state = 'dead'{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("dead letter {id}")))?;
    let message_id: String = rows::get(&row, "message_id")?;
    sqlx::query(
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1, lease_until = NULL, dead_at = NULL
         WHERE id = $2",
    )
    .bind(now.as_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE messages SET status = 'queued', error = NULL, status_at = $1 WHERE id = $2")
        .bind(now.as_millis())
        .bind(&message_id)
        .execute(&mut *tx)
        .await?;
    events::append(
        tx,
        NewEvent {
            workspace: &rows::get::<String>(&row, "workspace")?,
            kind: kind::MESSAGE_REQUEUED,
            person: Some(rows::id_col(&row, "person_id")?),
            conversation: Some(rows::id_col(&row, "conversation_id")?),
            message: Some(rows::id(&message_id)?),
            data: serde_json::json!({
                "actor": actor,
                "previous_error": rows::get::<Option<String>>(&row, "last_error")?,
            }),
            at: now,
        },
    )
    .await?;
    let message = sqlx::query(&format!("SELECT {} FROM messages WHERE id = $1", rows::MESSAGE_COLUMNS))
        .bind(&message_id)
        .fetch_one(&mut *tx)
        .await?;
    rows::message(&message)
}

/// How long a receipt waits for the send it refers to.
const EARLY_RECEIPT_TTL_MS: i64 = 24 * 3600 * 1000;

/// Keeps a receipt whose send is not recorded yet.
pub async fn keep_early_receipt(
    tx: &mut AnyConnection,
    connector: &str,
    update: &DeliveryUpdate,
    now: Timestamp,
) -> Result<(), StoreError> {
    // Receipts for messages sent outside Omni never find their send.
    sqlx::query("DELETE FROM early_receipts WHERE received_at < $1")
        .bind(now.as_millis() - EARLY_RECEIPT_TTL_MS)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO early_receipts (connector_id, external_id, status, error, at, received_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(connector)
    .bind(&update.external_id)
    .bind(update.status.as_str())
    .bind(&update.error)
    .bind(update.at.unwrap_or(now).as_millis())
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Applies the receipts that arrived before the send of `message` (a row
/// with id, person_id, conversation_id) was recorded under `external_id`.
async fn apply_early_receipts(
    tx: &mut AnyConnection,
    connector: &str,
    external_id: &str,
    workspace: &str,
    message: &sqlx::any::AnyRow,
    mut current: MessageStatus,
) -> Result<(), StoreError> {
    let receipts = sqlx::query(
        "SELECT status, error, at FROM early_receipts WHERE connector_id = $1 AND external_id = $2 ORDER BY at",
    )
    .bind(connector)
    .bind(external_id)
    .fetch_all(&mut *tx)
    .await?;
    if receipts.is_empty() {
        return Ok(());
    }
    for receipt in &receipts {
        let status = rows::status(&rows::get::<String>(receipt, "status")?)?;
        if !current.can_advance_to(status) {
            continue;
        }
        let error: Option<String> = rows::get(receipt, "error")?;
        let at = Timestamp::from_millis(rows::get(receipt, "at")?);
        sqlx::query("UPDATE messages SET status = $1, error = $2, status_at = $3 WHERE id = $4")
            .bind(status.as_str())
            .bind(&error)
            .bind(at.as_millis())
            .bind(rows::get::<String>(message, "id")?)
            .execute(&mut *tx)
            .await?;
        ingest::status_event(tx, workspace, message, status, error.as_deref(), at).await?;
        current = status;
    }
    sqlx::query("DELETE FROM early_receipts WHERE connector_id = $1 AND external_id = $2")
        .bind(connector)
        .bind(external_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
