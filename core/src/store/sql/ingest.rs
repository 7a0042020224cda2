//! One plugin call's events, stored in one transaction.

use sqlx::AnyConnection;

use super::conversations::{self, Arrival};
use super::events::{self, NewEvent, kind};
use super::graph::{self, Resolver};
use super::{kv, rows};
use crate::store::{StoreError, StoreOptions};
use crate::{
    Attachment, CallEvent, ConnectorId, ConversationId, CsatEvent, DeliveryUpdate, Direction, InboundEvent,
    InboundMessage, IngestBatch, IngestReport, IntegrationActivity, MessageId, MessageKind, MessageStatus, PersonId,
    ProfileUpdate, Timestamp,
};

/// The batch's context.
struct Ctx<'a> {
    workspace: &'a str,
    connector: &'a ConnectorId,
    channel: &'a str,
    options: &'a StoreOptions,
    now: Timestamp,
}

impl Ctx<'_> {
    fn resolver(&self) -> Resolver<'_> {
        Resolver {
            workspace: self.workspace,
            source: self.connector.as_str(),
            guards: &self.options.guards,
            now: self.now,
        }
    }
}

/// Stores a batch.
pub async fn ingest(
    tx: &mut AnyConnection,
    options: &StoreOptions,
    batch: &IngestBatch,
) -> Result<IngestReport, StoreError> {
    let now = options.clock.now();
    kv::check_and_apply(tx, &batch.connector, &batch.kv, now).await?;
    let ctx = Ctx {
        workspace: &batch.workspace,
        connector: &batch.connector,
        channel: &batch.channel,
        options,
        now,
    };
    let mut report = IngestReport::default();
    for event in &batch.events {
        match event {
            InboundEvent::Message(message) => message_received(tx, &ctx, message, &mut report).await?,
            InboundEvent::Delivery(update) => delivery(tx, &ctx, update, &mut report).await?,
            InboundEvent::Profile(profile) => profile_update(tx, &ctx, profile).await?,
            InboundEvent::Call(call) => call_record(tx, &ctx, call, &mut report).await?,
            InboundEvent::Csat(csat) => csat_answer(tx, &ctx, csat, &mut report).await?,
            InboundEvent::Integration(activity) => integration_activity(tx, &ctx, activity, &mut report).await?,
        }
    }
    Ok(report)
}

async fn external_id_exists(
    tx: &mut AnyConnection,
    connector: &ConnectorId,
    direction: Direction,
    external_id: &str,
) -> Result<bool, StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM messages WHERE connector_id = $1 AND direction = $2 AND external_id = $3")
            .bind(connector.as_str())
            .bind(direction.as_str())
            .bind(external_id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(found.is_some())
}

async fn set_display_name_if_missing(
    tx: &mut AnyConnection,
    person: PersonId,
    name: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE persons SET display_name = $1, updated_at = $2 WHERE id = $3 AND display_name IS NULL")
        .bind(name)
        .bind(now.as_millis())
        .bind(person.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn message_received(
    tx: &mut AnyConnection,
    ctx: &Ctx<'_>,
    message: &InboundMessage,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    if external_id_exists(tx, ctx.connector, Direction::Inbound, &message.external_id).await? {
        report.duplicates += 1;
        return Ok(());
    }
    let resolved = graph::resolve(tx, &ctx.resolver(), &message.sender, &message.claims).await?;
    if let Some(name) = &message.display_name {
        set_display_name_if_missing(tx, resolved.person, name, ctx.now).await?;
    }
    let references: Vec<&str> = message
        .reply_to
        .iter()
        .chain(message.references.iter().rev().take(20))
        .map(String::as_str)
        .collect();
    let arrival = Arrival {
        workspace: ctx.workspace,
        connector: ctx.connector.as_str(),
        channel: ctx.channel,
        thread_id: message.thread_id.as_deref(),
        references,
        now: ctx.now,
    };
    let conversation = conversations::for_inbound(tx, ctx.options, resolved.person, &arrival).await?;
    let id = insert_message(
        tx,
        NewMessageRow {
            conversation_id: conversation,
            person_id: resolved.person,
            connector: ctx.connector.as_str(),
            channel: ctx.channel,
            direction: Direction::Inbound,
            kind: MessageKind::Text,
            identity_id: resolved.identity,
            text: &message.text,
            attachments: &message.attachments,
            metadata: None,
            external_id: Some(&message.external_id),
            thread_id: message.thread_id.as_deref(),
            reply_to: message.reply_to.as_deref(),
            status: MessageStatus::Received,
            sent_at: message.sent_at,
            now: ctx.now,
        },
    )
    .await?;
    events::append(
        tx,
        NewEvent {
            workspace: ctx.workspace,
            kind: kind::MESSAGE_RECEIVED,
            person: Some(resolved.person),
            conversation: Some(conversation),
            message: Some(id),
            data: serde_json::json!({
                "channel": ctx.channel,
                "connector_id": ctx.connector,
                "text": message.text,
                "attachments": message.attachments.len(),
            }),
            at: ctx.now,
        },
    )
    .await?;
    report.messages.push(id);
    Ok(())
}

async fn call_record(
    tx: &mut AnyConnection,
    ctx: &Ctx<'_>,
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
    // A call's record changes as it progresses (ringing, completed, recording ready).
    let updated = sqlx::query(
        "UPDATE messages SET metadata = $1, text = CASE WHEN $2 = '' THEN text ELSE $2 END, status_at = $3
         WHERE connector_id = $4 AND direction = $5 AND external_id = $6",
    )
    .bind(&metadata)
    .bind(&text)
    .bind(ctx.now.as_millis())
    .bind(ctx.connector.as_str())
    .bind(call.direction.as_str())
    .bind(&call.external_id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() > 0 {
        report.duplicates += 1;
        return Ok(());
    }
    let resolved = graph::resolve(tx, &ctx.resolver(), &call.party, &[]).await?;
    let arrival = Arrival {
        workspace: ctx.workspace,
        connector: ctx.connector.as_str(),
        channel: ctx.channel,
        thread_id: None,
        references: Vec::new(),
        now: ctx.now,
    };
    let conversation = conversations::for_inbound(tx, ctx.options, resolved.person, &arrival).await?;
    let id = insert_message(
        tx,
        NewMessageRow {
            conversation_id: conversation,
            person_id: resolved.person,
            connector: ctx.connector.as_str(),
            channel: ctx.channel,
            direction: call.direction,
            kind: MessageKind::Call,
            identity_id: resolved.identity,
            text: &text,
            attachments: &[],
            metadata: Some(&metadata),
            external_id: Some(&call.external_id),
            thread_id: None,
            reply_to: None,
            status: MessageStatus::Received,
            sent_at: call.started_at,
            now: ctx.now,
        },
    )
    .await?;
    events::append(
        tx,
        NewEvent {
            workspace: ctx.workspace,
            kind: kind::CALL_RECORDED,
            person: Some(resolved.person),
            conversation: Some(conversation),
            message: Some(id),
            data: serde_json::json!({ "channel": ctx.channel, "status": call.status, "direction": call.direction }),
            at: ctx.now,
        },
    )
    .await?;
    report.messages.push(id);
    Ok(())
}

async fn delivery(
    tx: &mut AnyConnection,
    ctx: &Ctx<'_>,
    update: &DeliveryUpdate,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT id, status, person_id, conversation_id FROM messages
         WHERE connector_id = $1 AND direction = 'outbound' AND external_id = $2",
    )
    .bind(ctx.connector.as_str())
    .bind(&update.external_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        // A provider's callback can beat the response to our send; keep the
        // receipt until the send is recorded (or a day passes).
        tracing::debug!(connector = %ctx.connector, external_id = %update.external_id, "receipt before its send; kept");
        super::outbox::keep_early_receipt(tx, ctx.connector.as_str(), update, ctx.now).await?;
        report.statuses_early += 1;
        return Ok(());
    };
    let current = rows::status(&rows::get::<String>(&row, "status")?)?;
    if !current.can_advance_to(update.status) {
        report.statuses_ignored += 1;
        return Ok(());
    }
    let id: MessageId = rows::id_col(&row, "id")?;
    let at = update.at.unwrap_or(ctx.now);
    sqlx::query("UPDATE messages SET status = $1, error = $2, status_at = $3 WHERE id = $4")
        .bind(update.status.as_str())
        .bind(&update.error)
        .bind(at.as_millis())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    status_event(tx, ctx.workspace, &row, update.status, update.error.as_deref(), at).await?;
    report.statuses_applied += 1;
    Ok(())
}

/// Logs a status change of the outbound message in `row` (id, person_id, conversation_id).
pub async fn status_event(
    tx: &mut AnyConnection,
    workspace: &str,
    row: &sqlx::any::AnyRow,
    status: MessageStatus,
    error: Option<&str>,
    at: Timestamp,
) -> Result<(), StoreError> {
    events::append(
        tx,
        NewEvent {
            workspace,
            kind: kind::MESSAGE_STATUS,
            person: Some(rows::id_col(row, "person_id")?),
            conversation: Some(rows::id_col(row, "conversation_id")?),
            message: Some(rows::id_col(row, "id")?),
            data: serde_json::json!({ "status": status, "error": error }),
            at,
        },
    )
    .await
}

async fn profile_update(tx: &mut AnyConnection, ctx: &Ctx<'_>, profile: &ProfileUpdate) -> Result<(), StoreError> {
    let resolved = graph::resolve(tx, &ctx.resolver(), &profile.subject, &profile.claims).await?;
    if let Some(name) = &profile.display_name {
        set_display_name_if_missing(tx, resolved.person, name, ctx.now).await?;
    }
    Ok(())
}

async fn csat_answer(
    tx: &mut AnyConnection,
    ctx: &Ctx<'_>,
    csat: &CsatEvent,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM csat WHERE connector_id = $1 AND external_id = $2")
        .bind(ctx.connector.as_str())
        .bind(&csat.external_id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_some() {
        report.duplicates += 1;
        return Ok(());
    }
    let resolved = graph::resolve(tx, &ctx.resolver(), &csat.subject, &[]).await?;
    // The answer is about the person's latest conversation.
    let conversation: Option<String> =
        sqlx::query_scalar("SELECT id FROM conversations WHERE person_id = $1 ORDER BY last_message_at DESC LIMIT 1")
            .bind(resolved.person.to_string())
            .fetch_optional(&mut *tx)
            .await?;
    let at = csat.at.unwrap_or(ctx.now);
    sqlx::query(
        "INSERT INTO csat (connector_id, channel, external_id, person_id, identity_id, conversation_id, score, scale,
                           comment, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(ctx.connector.as_str())
    .bind(ctx.channel)
    .bind(&csat.external_id)
    .bind(resolved.person.to_string())
    .bind(resolved.identity)
    .bind(conversation.as_deref())
    .bind(i64::from(csat.score))
    .bind(i64::from(csat.scale))
    .bind(&csat.comment)
    .bind(at.as_millis())
    .execute(&mut *tx)
    .await?;
    let conversation: Option<ConversationId> = conversation.map(|c| rows::id(&c)).transpose()?;
    events::append(
        tx,
        NewEvent {
            workspace: ctx.workspace,
            kind: kind::CSAT_RECEIVED,
            person: Some(resolved.person),
            conversation,
            message: None,
            data: serde_json::json!({
                "score": csat.score, "scale": csat.scale, "comment": csat.comment, "channel": ctx.channel,
            }),
            at: ctx.now,
        },
    )
    .await?;
    report.csat_answers += 1;
    Ok(())
}

/// A message row to insert.
pub struct NewMessageRow<'a> {
    pub conversation_id: ConversationId,
    pub person_id: PersonId,
    pub connector: &'a str,
    pub channel: &'a str,
    pub direction: Direction,
    pub kind: MessageKind,
    pub identity_id: i64,
    pub text: &'a str,
    pub attachments: &'a [Attachment],
    pub metadata: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub thread_id: Option<&'a str>,
    pub reply_to: Option<&'a str>,
    pub status: MessageStatus,
    pub sent_at: Option<Timestamp>,
    pub now: Timestamp,
}

/// Inserts a message row.
pub async fn insert_message(tx: &mut AnyConnection, row: NewMessageRow<'_>) -> Result<MessageId, StoreError> {
    let id = MessageId::new();
    let attachments = serde_json::to_string(row.attachments).map_err(|e| StoreError::Invalid(e.to_string()))?;
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, person_id, connector_id, channel, direction, kind, identity_id, text,
                              attachments, metadata, external_id, thread_id, reply_to, status, sent_at, created_at,
                              status_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)",
    )
    .bind(id.to_string())
    .bind(row.conversation_id.to_string())
    .bind(row.person_id.to_string())
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
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// An integration's event: resolved to its person, deduplicated on
/// (connector, external id), logged as `integration.<kind>`.
async fn integration_activity(
    tx: &mut AnyConnection,
    ctx: &Ctx<'_>,
    activity: &IntegrationActivity,
    report: &mut IngestReport,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO integration_events (connector_id, external_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (connector_id, external_id) DO NOTHING",
    )
    .bind(ctx.connector.as_str())
    .bind(&activity.external_id)
    .bind(ctx.now.as_millis())
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        report.duplicates += 1;
        return Ok(());
    }
    let resolved = graph::resolve(tx, &ctx.resolver(), &activity.subject, &activity.claims).await?;
    let kind = format!("{}{}", kind::INTEGRATION_PREFIX, activity.kind);
    events::append(
        tx,
        NewEvent {
            workspace: ctx.workspace,
            kind: &kind,
            person: Some(resolved.person),
            conversation: None,
            message: None,
            data: serde_json::json!({
                "type": activity.kind,
                "summary": activity.summary,
                "data": activity.data,
                "source": ctx.connector,
                "occurred_at": activity.at,
            }),
            at: ctx.now,
        },
    )
    .await?;
    report.activities += 1;
    Ok(())
}
