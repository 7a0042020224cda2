//! The embedded SQLite backend.
//!
//! One file, WAL journal, migrations embedded in the binary. Writes go
//! through a single connection (SQLite has one writer anyway, and queueing in
//! the pool is cheaper than `SQLITE_BUSY` retries); reads use a pool of their
//! own so API listings never wait behind ingestion.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};

use super::{ConversationQuery, KvEntry, Store, StoreError, StoreOptions};
use crate::{
    Attachment, CallEvent, ConnectorId, Conversation, ConversationDetail, ConversationId, ConversationStatus,
    DeliveryUpdate, Direction, IdentityClaim, IdentityClaimRecord, IdentityKey, IdentityKind, InboundEvent,
    InboundMessage, IngestBatch, IngestReport, KvChanges, Message, MessageId, MessageKind, MessageStatus, NewOutbound,
    OutboxJob, Page, Person, PersonId, PersonIdentity, ProfileUpdate, SendOutcome, Timestamp,
};

/// Largest page a listing returns.
const MAX_PAGE: u32 = 200;
/// Most messages returned with one conversation.
const MAX_CONVERSATION_MESSAGES: i64 = 1000;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    options: StoreOptions,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url`,
    /// e.g. `sqlite://data/omni.db`.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(connect.read_only(true))
            .await?;
        Ok(Self {
            writer,
            reader,
            options,
        })
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, batch: IngestBatch) -> Result<IngestReport, StoreError> {
        let mut tx = self.begin().await?;
        check_and_apply_kv(&mut tx, &batch.connector, &batch.kv).await?;
        let mut report = IngestReport::default();
        let ctx = IngestCtx {
            connector: &batch.connector,
            channel: &batch.channel,
            window: self.options.conversation_window,
        };
        for event in &batch.events {
            match event {
                InboundEvent::Message(message) => ingest_message(&mut tx, &ctx, message, &mut report).await?,
                InboundEvent::Delivery(update) => apply_delivery(&mut tx, &ctx, update, &mut report).await?,
                InboundEvent::Profile(profile) => apply_profile(&mut tx, &ctx, profile).await?,
                InboundEvent::Call(call) => ingest_call(&mut tx, &ctx, call, &mut report).await?,
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn kv_get(&self, connector: &ConnectorId, key: &str) -> Result<Option<KvEntry>, StoreError> {
        let row = sqlx::query("SELECT value, updated_at FROM kv WHERE connector_id = ? AND key = ?")
            .bind(connector.as_str())
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|row| KvEntry {
            value: row.get("value"),
            updated_at: Timestamp::from_millis(row.get("updated_at")),
        }))
    }

    async fn enqueue_outbound(&self, outbound: NewOutbound) -> Result<Message, StoreError> {
        let mut tx = self.begin().await?;
        let conversation = sqlx::query("SELECT person_id FROM conversations WHERE id = ?")
            .bind(outbound.conversation_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("conversation {}", outbound.conversation_id)))?;
        let person_id: String = conversation.get("person_id");

        // Reply where the person wrote last (on the requested connector, if any).
        let last_inbound = sqlx::query(
            "SELECT m.connector_id, m.channel, m.external_id, m.thread_id, i.kind, i.value
             FROM messages m JOIN identities i ON i.id = m.identity_id
             WHERE m.conversation_id = ? AND m.direction = 'inbound' AND (? IS NULL OR m.connector_id = ?)
             ORDER BY m.created_at DESC, m.id DESC LIMIT 1",
        )
        .bind(outbound.conversation_id.to_string())
        .bind(outbound.connector.as_ref().map(ConnectorId::as_str))
        .bind(outbound.connector.as_ref().map(ConnectorId::as_str))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| match &outbound.connector {
            Some(connector) => StoreError::Invalid(format!(
                "the person has not written through connector {connector} in this conversation, so there is no address to reply to there"
            )),
            None => StoreError::Invalid("the conversation has no inbound message to reply to".to_owned()),
        })?;
        let connector: String = last_inbound.get("connector_id");
        let channel: String = last_inbound.get("channel");
        let recipient_kind: String = last_inbound.get("kind");
        let recipient_value: String = last_inbound.get("value");
        let identity_id: i64 = sqlx::query_scalar("SELECT id FROM identities WHERE kind = ? AND value = ?")
            .bind(&recipient_kind)
            .bind(&recipient_value)
            .fetch_one(&mut *tx)
            .await?;

        let now = Timestamp::now();
        let reply_to: Option<String> = last_inbound.get("external_id");
        let thread_id: Option<String> = last_inbound.get("thread_id");
        let id = insert_message(
            &mut tx,
            NewMessageRow {
                conversation_id: outbound.conversation_id,
                person_id: &person_id,
                connector: &connector,
                channel: &channel,
                direction: Direction::Outbound,
                kind: MessageKind::Text,
                identity_id,
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
             VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
        )
        .bind(id.to_string())
        .bind(outbound.conversation_id.to_string())
        .bind(&connector)
        .bind(&recipient_kind)
        .bind(&recipient_value)
        .bind(now.as_millis())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE conversations SET updated_at = ?, last_message_at = ? WHERE id = ?")
            .bind(now.as_millis())
            .bind(now.as_millis())
            .bind(outbound.conversation_id.to_string())
            .execute(&mut *tx)
            .await?;
        let message = fetch_message(&mut tx, id).await?;
        tx.commit().await?;
        Ok(message)
    }

    async fn claim_outbox(&self, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<OutboxJob>, StoreError> {
        let mut tx = self.begin().await?;
        let claimed = sqlx::query(
            "UPDATE outbox SET lease_until = ?, attempts = attempts + 1
             WHERE id IN (
                 SELECT o.id FROM outbox o
                 WHERE o.state = 'pending' AND o.next_attempt_at <= ?
                   AND (o.lease_until IS NULL OR o.lease_until <= ?)
                   AND NOT EXISTS (SELECT 1 FROM outbox p
                                   WHERE p.conversation_id = o.conversation_id AND p.state = 'pending' AND p.id < o.id)
                 ORDER BY o.id LIMIT ?)
             RETURNING id, attempts, message_id, conversation_id, connector_id, recipient_kind, recipient_value",
        )
        .bind(now.plus(lease).as_millis())
        .bind(now.as_millis())
        .bind(now.as_millis())
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut jobs = Vec::with_capacity(claimed.len());
        for row in claimed {
            let message_id: String = row.get("message_id");
            let message = sqlx::query("SELECT text, attachments, reply_to, thread_id FROM messages WHERE id = ?")
                .bind(&message_id)
                .fetch_one(&mut *tx)
                .await?;
            let kind: String = row.get("recipient_kind");
            jobs.push(OutboxJob {
                id: row.get("id"),
                attempt: row.get::<i64, _>("attempts") as u32,
                message_id: parse_id(&message_id)?,
                conversation_id: parse_id(&row.get::<String, _>("conversation_id"))?,
                connector: parse_connector(&row.get::<String, _>("connector_id"))?,
                recipient: IdentityKey::from_normalized(parse_kind(&kind)?, row.get::<String, _>("recipient_value")),
                text: message.get("text"),
                attachments: parse_json(&message.get::<String, _>("attachments"))?,
                reply_to: message.get("reply_to"),
                thread_id: message.get("thread_id"),
            });
        }
        tx.commit().await?;
        Ok(jobs)
    }

    async fn finish_outbox(&self, job: &OutboxJob, outcome: SendOutcome, kv: KvChanges) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        // The claim is ours only while nobody re-claimed the row.
        let ours: Option<i64> =
            sqlx::query_scalar("SELECT id FROM outbox WHERE id = ? AND attempts = ? AND state = 'pending'")
                .bind(job.id)
                .bind(job.attempt as i64)
                .fetch_optional(&mut *tx)
                .await?;
        if ours.is_none() {
            return Err(StoreError::LeaseLost(job.id));
        }
        check_and_apply_kv(&mut tx, &job.connector, &kv).await?;
        let now = Timestamp::now().as_millis();
        match outcome {
            SendOutcome::Sent { external_id, status } => {
                sqlx::query("DELETE FROM outbox WHERE id = ?")
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
                // A receipt may already have moved the message further; keep the furthest status.
                let current: String = sqlx::query_scalar("SELECT status FROM messages WHERE id = ?")
                    .bind(job.message_id.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                let current = parse_status(&current)?;
                let status = if current.can_advance_to(status) {
                    status
                } else {
                    current
                };
                sqlx::query(
                    "UPDATE messages SET external_id = ?, status = ?, status_at = ?, sent_at = ?, error = NULL WHERE id = ?",
                )
                .bind(&external_id)
                .bind(status.as_str())
                .bind(now)
                .bind(now)
                .bind(job.message_id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            SendOutcome::Retry { error, at } => {
                sqlx::query("UPDATE outbox SET next_attempt_at = ?, lease_until = NULL, last_error = ? WHERE id = ?")
                    .bind(at.as_millis())
                    .bind(&error)
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
            }
            SendOutcome::Failed { error } => {
                sqlx::query("UPDATE outbox SET state = 'dead', lease_until = NULL, last_error = ? WHERE id = ?")
                    .bind(&error)
                    .bind(job.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE messages SET status = 'failed', error = ?, status_at = ? WHERE id = ?")
                    .bind(&error)
                    .bind(now)
                    .bind(job.message_id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn next_outbox_due(&self) -> Result<Option<Timestamp>, StoreError> {
        // Rows waiting behind an earlier reply of their conversation are not
        // due: they become claimable when that one finishes.
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(MAX(o.next_attempt_at, COALESCE(o.lease_until, 0))) FROM outbox o
             WHERE o.state = 'pending'
               AND NOT EXISTS (SELECT 1 FROM outbox p
                               WHERE p.conversation_id = o.conversation_id AND p.state = 'pending' AND p.id < o.id)",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(due.map(Timestamp::from_millis))
    }

    async fn conversations(&self, query: ConversationQuery) -> Result<Page<Conversation>, StoreError> {
        let limit = query.limit.clamp(1, MAX_PAGE);
        let cursor = match &query.cursor {
            None => None,
            Some(c) => Some(parse_cursor(c)?),
        };
        let rows = sqlx::query(
            "SELECT * FROM conversations
             WHERE (? IS NULL OR status = ?) AND (? IS NULL OR person_id = ?)
               AND (? IS NULL OR updated_at < ? OR (updated_at = ? AND id < ?))
             ORDER BY updated_at DESC, id DESC LIMIT ?",
        )
        .bind(query.status.map(ConversationStatus::as_str))
        .bind(query.status.map(ConversationStatus::as_str))
        .bind(query.person_id.map(|p| p.to_string()))
        .bind(query.person_id.map(|p| p.to_string()))
        .bind(cursor.as_ref().map(|c| c.0))
        .bind(cursor.as_ref().map(|c| c.0))
        .bind(cursor.as_ref().map(|c| c.0))
        .bind(cursor.as_ref().map(|c| c.1.clone()))
        .bind(limit as i64 + 1)
        .fetch_all(&self.reader)
        .await?;
        let mut items = rows.iter().map(conversation_from_row).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|c| format!("{}_{}", c.updated_at.as_millis(), c.id))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationDetail>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM conversations WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(None);
        };
        let conversation = conversation_from_row(&row)?;
        // The latest messages, returned oldest first.
        let rows = sqlx::query(
            "SELECT * FROM (SELECT * FROM messages WHERE conversation_id = ? ORDER BY created_at DESC, id DESC LIMIT ?)
             ORDER BY created_at, id",
        )
        .bind(id.to_string())
        .bind(MAX_CONVERSATION_MESSAGES)
        .fetch_all(&self.reader)
        .await?;
        let messages = rows.iter().map(message_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Some(ConversationDetail { conversation, messages }))
    }

    async fn person(&self, id: PersonId) -> Result<Option<Person>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM persons WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(None);
        };
        let identities = sqlx::query("SELECT * FROM identities WHERE person_id = ? ORDER BY created_at, id")
            .bind(id.to_string())
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|r| {
                Ok(PersonIdentity {
                    kind: parse_kind(&r.get::<String, _>("kind"))?,
                    value: r.get("value"),
                    verified: r.get("verified"),
                    source: r.get("source"),
                    created_at: Timestamp::from_millis(r.get("created_at")),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let claims = sqlx::query("SELECT * FROM identity_claims WHERE person_id = ? ORDER BY created_at, kind, value")
            .bind(id.to_string())
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(|r| {
                Ok(IdentityClaimRecord {
                    kind: parse_kind(&r.get::<String, _>("kind"))?,
                    value: r.get("value"),
                    source: r.get("source"),
                    created_at: Timestamp::from_millis(r.get("created_at")),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(Person {
            id,
            display_name: row.get("display_name"),
            created_at: Timestamp::from_millis(row.get("created_at")),
            updated_at: Timestamp::from_millis(row.get("updated_at")),
            identities,
            claims,
        }))
    }

    async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }
}

struct IngestCtx<'a> {
    connector: &'a ConnectorId,
    channel: &'a str,
    window: Duration,
}

/// Checks that every key the call read is unchanged, then applies its writes.
async fn check_and_apply_kv(
    tx: &mut SqliteConnection,
    connector: &ConnectorId,
    kv: &KvChanges,
) -> Result<(), StoreError> {
    for (key, seen) in &kv.reads {
        let current: Option<Vec<u8>> = sqlx::query_scalar("SELECT value FROM kv WHERE connector_id = ? AND key = ?")
            .bind(connector.as_str())
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        if &current != seen {
            return Err(StoreError::KvConflict {
                connector: connector.clone(),
                key: key.clone(),
            });
        }
    }
    let now = Timestamp::now().as_millis();
    for (key, value) in &kv.writes {
        match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO kv (connector_id, key, value, updated_at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (connector_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(connector.as_str())
                .bind(key)
                .bind(value)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM kv WHERE connector_id = ? AND key = ?")
                    .bind(connector.as_str())
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    Ok(())
}

async fn ingest_message(
    tx: &mut SqliteConnection,
    ctx: &IngestCtx<'_>,
    message: &InboundMessage,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    if external_id_exists(tx, ctx.connector, Direction::Inbound, &message.external_id).await? {
        report.duplicates += 1;
        return Ok(());
    }
    let now = Timestamp::now();
    let (person_id, identity_id) = resolve_person(tx, ctx.connector, &message.sender, &message.claims, now).await?;
    if let Some(name) = &message.display_name {
        set_display_name_if_missing(tx, person_id, name, now).await?;
    }
    let conversation_id = conversation_for(tx, ctx, person_id, now).await?;
    let id = insert_message(
        tx,
        NewMessageRow {
            conversation_id,
            person_id: &person_id.to_string(),
            connector: ctx.connector.as_str(),
            channel: ctx.channel,
            direction: Direction::Inbound,
            kind: MessageKind::Text,
            identity_id,
            text: &message.text,
            attachments: &message.attachments,
            metadata: None,
            external_id: Some(&message.external_id),
            thread_id: message.thread_id.as_deref(),
            reply_to: message.reply_to.as_deref(),
            status: MessageStatus::Received,
            sent_at: message.sent_at,
            now,
        },
    )
    .await?;
    report.messages.push(id);
    Ok(())
}

async fn ingest_call(
    tx: &mut SqliteConnection,
    ctx: &IngestCtx<'_>,
    call: &CallEvent,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    let metadata = serde_json::json!({
        "call_status": call.status,
        "started_at": call.started_at,
        "duration_ms": call.duration_ms,
        "recording_url": call.recording_url,
    })
    .to_string();
    let text = call.transcript.clone().unwrap_or_default();
    let direction = call.direction.as_str();
    // A call's record changes as it progresses (ringing, completed, recording ready).
    let updated = sqlx::query(
        "UPDATE messages SET metadata = ?, text = CASE WHEN ? = '' THEN text ELSE ? END, status_at = ?
         WHERE connector_id = ? AND direction = ? AND external_id = ?",
    )
    .bind(&metadata)
    .bind(&text)
    .bind(&text)
    .bind(Timestamp::now().as_millis())
    .bind(ctx.connector.as_str())
    .bind(direction)
    .bind(&call.external_id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() > 0 {
        report.duplicates += 1;
        return Ok(());
    }
    let now = Timestamp::now();
    let (person_id, identity_id) = resolve_person(tx, ctx.connector, &call.party, &[], now).await?;
    let conversation_id = conversation_for(tx, ctx, person_id, now).await?;
    let id = insert_message(
        tx,
        NewMessageRow {
            conversation_id,
            person_id: &person_id.to_string(),
            connector: ctx.connector.as_str(),
            channel: ctx.channel,
            direction: call.direction,
            kind: MessageKind::Call,
            identity_id,
            text: &text,
            attachments: &[],
            metadata: Some(&metadata),
            external_id: Some(&call.external_id),
            thread_id: None,
            reply_to: None,
            status: MessageStatus::Received,
            sent_at: call.started_at,
            now,
        },
    )
    .await?;
    report.messages.push(id);
    Ok(())
}

async fn apply_delivery(
    tx: &mut SqliteConnection,
    ctx: &IngestCtx<'_>,
    update: &DeliveryUpdate,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT id, status FROM messages WHERE connector_id = ? AND direction = 'outbound' AND external_id = ?",
    )
    .bind(ctx.connector.as_str())
    .bind(&update.external_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        tracing::debug!(connector = %ctx.connector, external_id = %update.external_id, "receipt for an unknown message");
        report.statuses_ignored += 1;
        return Ok(());
    };
    let current = parse_status(&row.get::<String, _>("status"))?;
    if !current.can_advance_to(update.status) {
        report.statuses_ignored += 1;
        return Ok(());
    }
    let at = update.at.unwrap_or_else(Timestamp::now);
    sqlx::query("UPDATE messages SET status = ?, error = ?, status_at = ? WHERE id = ?")
        .bind(update.status.as_str())
        .bind(&update.error)
        .bind(at.as_millis())
        .bind(row.get::<String, _>("id"))
        .execute(&mut *tx)
        .await?;
    report.statuses_applied += 1;
    Ok(())
}

async fn apply_profile(
    tx: &mut SqliteConnection,
    ctx: &IngestCtx<'_>,
    profile: &ProfileUpdate,
) -> Result<(), StoreError> {
    let now = Timestamp::now();
    let (person_id, _) = resolve_person(tx, ctx.connector, &profile.subject, &profile.claims, now).await?;
    if let Some(name) = &profile.display_name {
        set_display_name_if_missing(tx, person_id, name, now).await?;
    }
    Ok(())
}

/// A message row to insert.
struct NewMessageRow<'a> {
    conversation_id: ConversationId,
    person_id: &'a str,
    connector: &'a str,
    channel: &'a str,
    direction: Direction,
    kind: MessageKind,
    identity_id: i64,
    text: &'a str,
    attachments: &'a [Attachment],
    metadata: Option<&'a str>,
    external_id: Option<&'a str>,
    thread_id: Option<&'a str>,
    reply_to: Option<&'a str>,
    status: MessageStatus,
    sent_at: Option<Timestamp>,
    now: Timestamp,
}

async fn insert_message(tx: &mut SqliteConnection, row: NewMessageRow<'_>) -> Result<MessageId, StoreError> {
    let id = MessageId::new();
    let attachments = serde_json::to_string(row.attachments).map_err(|e| StoreError::Invalid(e.to_string()))?;
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, person_id, connector_id, channel, direction, kind, identity_id, text,
                              attachments, metadata, external_id, thread_id, reply_to, status, sent_at, created_at,
                              status_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(row.conversation_id.to_string())
    .bind(row.person_id)
    .bind(row.connector)
    .bind(row.channel)
    .bind(row.direction.as_str())
    .bind(row.kind.as_str())
    .bind(row.identity_id)
    .bind(row.text)
    .bind(attachments)
    .bind(row.metadata.unwrap_or("{}"))
    .bind(row.external_id)
    .bind(row.thread_id)
    .bind(row.reply_to)
    .bind(row.status.as_str())
    .bind(row.sent_at.map(Timestamp::as_millis))
    .bind(row.now.as_millis())
    .bind(row.now.as_millis())
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

async fn external_id_exists(
    tx: &mut SqliteConnection,
    connector: &ConnectorId,
    direction: Direction,
    external_id: &str,
) -> Result<bool, StoreError> {
    let direction = direction.as_str();
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM messages WHERE connector_id = ? AND direction = ? AND external_id = ?")
            .bind(connector.as_str())
            .bind(direction)
            .bind(external_id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(found.is_some())
}

/// Finds the person behind a sender, creating person and identities as needed.
///
/// The sender's channel address always resolves to exactly one person. A
/// verified claim that is already known also leads to its person, so a signed
/// user who opens the chat on a new device lands on their existing person.
/// Unverified claims are recorded on the person but never used to link.
/// Returns the person and the sender's identity row.
async fn resolve_person(
    tx: &mut SqliteConnection,
    connector: &ConnectorId,
    sender: &IdentityClaim,
    claims: &[IdentityClaim],
    now: Timestamp,
) -> Result<(PersonId, i64), StoreError> {
    let sender_row = find_identity(tx, &sender.key).await?;
    let mut verified_rows = Vec::new();
    for claim in claims.iter().filter(|c| c.verified) {
        verified_rows.push((claim, find_identity(tx, &claim.key).await?));
    }
    let known = sender_row.as_ref().map(|(_, person)| *person).or_else(|| {
        verified_rows
            .iter()
            .find_map(|(_, row)| row.as_ref().map(|(_, person)| *person))
    });
    let person_id = match known {
        Some(person) => person,
        None => create_person(tx, now).await?,
    };
    let sender_id = match sender_row {
        Some((id, _)) => {
            if sender.verified {
                mark_verified(tx, id).await?;
            }
            id
        }
        None => insert_identity(tx, person_id, &sender.key, sender.verified, connector, now).await?,
    };
    for (claim, row) in verified_rows {
        match row {
            None => {
                insert_identity(tx, person_id, &claim.key, true, connector, now).await?;
            }
            Some((id, owner)) if owner == person_id => mark_verified(tx, id).await?,
            Some((_, owner)) => {
                // Linking two existing persons is a merge; the identity graph
                // decides those, not a single message.
                tracing::info!(%person_id, other = %owner, identity = %claim.key,
                    "verified identity belongs to another person; not merging automatically");
            }
        }
    }
    for claim in claims.iter().filter(|c| !c.verified) {
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM identities WHERE person_id = ? AND kind = ? AND value = ?")
                .bind(person_id.to_string())
                .bind(claim.key.kind.as_str())
                .bind(&claim.key.value)
                .fetch_optional(&mut *tx)
                .await?;
        if owned.is_none() {
            sqlx::query(
                "INSERT INTO identity_claims (person_id, kind, value, source, created_at) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT DO NOTHING",
            )
            .bind(person_id.to_string())
            .bind(claim.key.kind.as_str())
            .bind(&claim.key.value)
            .bind(connector.as_str())
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok((person_id, sender_id))
}

async fn find_identity(tx: &mut SqliteConnection, key: &IdentityKey) -> Result<Option<(i64, PersonId)>, StoreError> {
    let row = sqlx::query("SELECT id, person_id FROM identities WHERE kind = ? AND value = ?")
        .bind(key.kind.as_str())
        .bind(&key.value)
        .fetch_optional(&mut *tx)
        .await?;
    row.map(|r| Ok((r.get("id"), parse_id(&r.get::<String, _>("person_id"))?)))
        .transpose()
}

async fn create_person(tx: &mut SqliteConnection, now: Timestamp) -> Result<PersonId, StoreError> {
    let id = PersonId::new();
    sqlx::query("INSERT INTO persons (id, created_at, updated_at) VALUES (?, ?, ?)")
        .bind(id.to_string())
        .bind(now.as_millis())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

async fn insert_identity(
    tx: &mut SqliteConnection,
    person: PersonId,
    key: &IdentityKey,
    verified: bool,
    source: &ConnectorId,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let id = sqlx::query_scalar(
        "INSERT INTO identities (person_id, kind, value, verified, source, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(person.to_string())
    .bind(key.kind.as_str())
    .bind(&key.value)
    .bind(verified)
    .bind(source.as_str())
    .bind(now.as_millis())
    .fetch_one(&mut *tx)
    .await?;
    // A stated identifier that is now proven is no longer just a claim.
    sqlx::query("DELETE FROM identity_claims WHERE person_id = ? AND kind = ? AND value = ?")
        .bind(person.to_string())
        .bind(key.kind.as_str())
        .bind(&key.value)
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

async fn mark_verified(tx: &mut SqliteConnection, identity: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE identities SET verified = 1 WHERE id = ? AND verified = 0")
        .bind(identity)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn set_display_name_if_missing(
    tx: &mut SqliteConnection,
    person: PersonId,
    name: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE persons SET display_name = ?, updated_at = ? WHERE id = ? AND display_name IS NULL")
        .bind(name)
        .bind(now.as_millis())
        .bind(person.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The person's open conversation active within the window, or a new one.
async fn conversation_for(
    tx: &mut SqliteConnection,
    ctx: &IngestCtx<'_>,
    person: PersonId,
    now: Timestamp,
) -> Result<ConversationId, StoreError> {
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE person_id = ? AND status = 'open' AND last_message_at >= ?
         ORDER BY last_message_at DESC LIMIT 1",
    )
    .bind(person.to_string())
    .bind(now.minus(ctx.window).as_millis())
    .fetch_optional(&mut *tx)
    .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE conversations SET channel = ?, connector_id = ?, updated_at = ?, last_message_at = ? WHERE id = ?",
            )
            .bind(ctx.channel)
            .bind(ctx.connector.as_str())
            .bind(now.as_millis())
            .bind(now.as_millis())
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            parse_id(&id)?
        }
        None => {
            let id = ConversationId::new();
            sqlx::query(
                "INSERT INTO conversations (id, person_id, status, channel, connector_id, created_at, updated_at, last_message_at)
                 VALUES (?, ?, 'open', ?, ?, ?, ?, ?)",
            )
            .bind(id.to_string())
            .bind(person.to_string())
            .bind(ctx.channel)
            .bind(ctx.connector.as_str())
            .bind(now.as_millis())
            .bind(now.as_millis())
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    Ok(id)
}

async fn fetch_message(tx: &mut SqliteConnection, id: MessageId) -> Result<Message, StoreError> {
    let row = sqlx::query("SELECT * FROM messages WHERE id = ?")
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await?;
    message_from_row(&row)
}

fn conversation_from_row(row: &SqliteRow) -> Result<Conversation, StoreError> {
    let status: String = row.get("status");
    Ok(Conversation {
        id: parse_id(&row.get::<String, _>("id"))?,
        person_id: parse_id(&row.get::<String, _>("person_id"))?,
        status: ConversationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("conversation status {status:?}")))?,
        channel: row.get("channel"),
        connector_id: parse_connector(&row.get::<String, _>("connector_id"))?,
        created_at: Timestamp::from_millis(row.get("created_at")),
        updated_at: Timestamp::from_millis(row.get("updated_at")),
        last_message_at: Timestamp::from_millis(row.get("last_message_at")),
    })
}

fn message_from_row(row: &SqliteRow) -> Result<Message, StoreError> {
    let direction = match row.get::<String, _>("direction").as_str() {
        "inbound" => Direction::Inbound,
        "outbound" => Direction::Outbound,
        other => return Err(StoreError::Corrupt(format!("message direction {other:?}"))),
    };
    let kind = match row.get::<String, _>("kind").as_str() {
        "text" => MessageKind::Text,
        "call" => MessageKind::Call,
        other => return Err(StoreError::Corrupt(format!("message kind {other:?}"))),
    };
    let attachments: Vec<Attachment> = parse_json(&row.get::<String, _>("attachments"))?;
    Ok(Message {
        id: parse_id(&row.get::<String, _>("id"))?,
        conversation_id: parse_id(&row.get::<String, _>("conversation_id"))?,
        person_id: parse_id(&row.get::<String, _>("person_id"))?,
        connector_id: parse_connector(&row.get::<String, _>("connector_id"))?,
        channel: row.get("channel"),
        direction,
        kind,
        text: row.get("text"),
        attachments,
        metadata: parse_json(&row.get::<String, _>("metadata"))?,
        external_id: row.get("external_id"),
        status: parse_status(&row.get::<String, _>("status"))?,
        error: row.get("error"),
        sent_at: row.get::<Option<i64>, _>("sent_at").map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(row.get("created_at")),
        status_at: Timestamp::from_millis(row.get("status_at")),
    })
}

fn parse_id<T: FromStr>(text: &str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("id {text:?}")))
}

fn parse_connector(text: &str) -> Result<ConnectorId, StoreError> {
    ConnectorId::new(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse_kind(text: &str) -> Result<IdentityKind, StoreError> {
    IdentityKind::parse(text).ok_or_else(|| StoreError::Corrupt(format!("identity kind {text:?}")))
}

fn parse_status(text: &str) -> Result<MessageStatus, StoreError> {
    MessageStatus::parse(text).ok_or_else(|| StoreError::Corrupt(format!("message status {text:?}")))
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    let invalid = || {
        StoreError::Invalid(format!(
            "invalid cursor {cursor:?}; pass the next_cursor of the previous page"
        ))
    };
    let (at, id) = cursor.split_once('_').ok_or_else(invalid)?;
    let at = at.parse().map_err(|_| invalid())?;
    ConversationId::from_str(id).map_err(|_| invalid())?;
    Ok((at, id.to_owned()))
}

#[cfg(test)]
mod tests;
