//! The read side: listings, persons with their graph, timelines, metrics.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Executor};

use super::rows;
use crate::metrics::{self, ConversationFact, CsatFact, MessageFact, MetricsFacts, MetricsQuery, MetricsReport};
use crate::store::{ConversationQuery, StoreError};
use crate::{
    AuditEntry, Conversation, ConversationDetail, ConversationId, Direction, IdentityRef, Link, Page, Person, PersonId,
    PersonIdentity, SourceKind, Suggestion, SuggestionReason, TimelineEntry,
};

/// Largest page a listing returns.
const MAX_PAGE: u32 = 200;
/// Most messages returned with one conversation.
const MAX_CONVERSATION_MESSAGES: i64 = 1000;

/// Lists conversations, most recently active first.
pub async fn conversations(pool: &AnyPool, query: &ConversationQuery) -> Result<Page<Conversation>, StoreError> {
    let limit = query.limit.clamp(1, MAX_PAGE);
    let cursor = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let rows = sqlx::query(&format!(
        "SELECT {} FROM conversations
         WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR person_id = $2)
           AND ($3 IS NULL OR updated_at < $3 OR (updated_at = $3 AND id < $4))
         ORDER BY updated_at DESC, id DESC LIMIT $5",
        rows::CONVERSATION_COLUMNS
    ))
    .bind(query.status.map(|s| s.as_str()))
    .bind(query.person_id.map(|p| p.to_string()))
    .bind(cursor.as_ref().map(|c| c.0))
    .bind(cursor.as_ref().map(|c| c.1.clone()))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let mut items = rows.iter().map(rows::conversation).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|c| format!("{}_{}", c.updated_at.as_millis(), c.id))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), StoreError> {
    let invalid = || {
        StoreError::Invalid(format!(
            "invalid cursor {cursor:?}; pass the next_cursor of the previous page"
        ))
    };
    let (at, id) = cursor.split_once('_').ok_or_else(invalid)?;
    let at = at.parse().map_err(|_| invalid())?;
    id.parse::<ConversationId>().map_err(|_| invalid())?;
    Ok((at, id.to_owned()))
}

/// One conversation with its latest messages, oldest first.
pub async fn conversation(pool: &AnyPool, id: ConversationId) -> Result<Option<ConversationDetail>, StoreError> {
    let Some(row) = sqlx::query(&format!(
        "SELECT {} FROM conversations WHERE id = $1",
        rows::CONVERSATION_COLUMNS
    ))
    .bind(id.to_string())
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let conversation = rows::conversation(&row)?;
    let rows = sqlx::query(&format!(
        "SELECT {0} FROM (SELECT {0} FROM messages WHERE conversation_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2) latest
         ORDER BY created_at, id",
        rows::MESSAGE_COLUMNS
    ))
    .bind(id.to_string())
    .bind(MAX_CONVERSATION_MESSAGES)
    .fetch_all(pool)
    .await?;
    let messages = rows.iter().map(rows::message).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ConversationDetail { conversation, messages }))
}

/// One person with identities and links, following merges.
pub async fn person(pool: &AnyPool, id: PersonId) -> Result<Option<Person>, StoreError> {
    let Some(row) = sqlx::query("SELECT id, merged_into FROM persons WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let live: PersonId = rows::opt_id_col(&row, "merged_into")?.unwrap_or(id);
    let row = sqlx::query("SELECT * FROM persons WHERE id = $1")
        .bind(live.to_string())
        .fetch_one(pool)
        .await?;
    let identities = sqlx::query(
        "SELECT id, kind, value, verified, verified_by, is_address, created_at FROM identities
         WHERE person_id = $1 ORDER BY id",
    )
    .bind(live.to_string())
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(PersonIdentity {
            id: rows::get(r, "id")?,
            kind: rows::kind(&rows::get::<String>(r, "kind")?)?,
            value: rows::get(r, "value")?,
            verified: rows::flag(r, "verified")?,
            verified_by: rows::get(r, "verified_by")?,
            is_address: rows::flag(r, "is_address")?,
            created_at: rows::time(r, "created_at")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let links = sqlx::query(
        "SELECT l.id, l.trusted, l.source_kind, l.source, l.reason, l.created_at,
                a.id AS a_id, a.kind AS a_kind, a.value AS a_value, b.id AS b_id, b.kind AS b_kind, b.value AS b_value
         FROM links l JOIN identities a ON a.id = l.from_identity JOIN identities b ON b.id = l.to_identity
         WHERE l.removed_at IS NULL AND (a.person_id = $1 OR b.person_id = $1)
         ORDER BY l.id",
    )
    .bind(live.to_string())
    .fetch_all(pool)
    .await?
    .iter()
    .map(link)
    .collect::<Result<Vec<_>, StoreError>>()?;
    let merged_from =
        sqlx::query_scalar::<_, String>("SELECT id FROM persons WHERE merged_into = $1 ORDER BY created_at")
            .bind(live.to_string())
            .fetch_all(pool)
            .await?
            .iter()
            .map(|s| rows::id(s))
            .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(Person {
        id: live,
        workspace: rows::get(&row, "workspace")?,
        display_name: rows::get(&row, "display_name")?,
        created_at: rows::time(&row, "created_at")?,
        updated_at: rows::time(&row, "updated_at")?,
        identities,
        links,
        merged_from,
    }))
}

fn identity_ref(row: &AnyRow, prefix: &str) -> Result<IdentityRef, StoreError> {
    Ok(IdentityRef {
        id: rows::get(row, &format!("{prefix}_id"))?,
        kind: rows::kind(&rows::get::<String>(row, &format!("{prefix}_kind"))?)?,
        value: rows::get(row, &format!("{prefix}_value"))?,
    })
}

fn link(row: &AnyRow) -> Result<Link, StoreError> {
    let source_kind: String = rows::get(row, "source_kind")?;
    Ok(Link {
        id: rows::get(row, "id")?,
        from: identity_ref(row, "a")?,
        to: identity_ref(row, "b")?,
        trusted: rows::flag(row, "trusted")?,
        source_kind: SourceKind::parse(&source_kind)
            .ok_or_else(|| StoreError::Corrupt(format!("link source kind {source_kind:?}")))?,
        source: rows::get(row, "source")?,
        reason: rows::get(row, "reason")?,
        created_at: rows::time(row, "created_at")?,
    })
}

const SUGGESTION_QUERY: &str = "SELECT s.id, s.person_id, s.other_person_id, s.reason, s.detail, s.source, s.status,
        s.created_at, i.id AS i_id, i.kind AS i_kind, i.value AS i_value
     FROM suggestions s LEFT JOIN identities i ON i.id = s.identity_id";

fn suggestion(row: &AnyRow) -> Result<Suggestion, StoreError> {
    let reason: String = rows::get(row, "reason")?;
    let identity = match rows::get::<Option<i64>>(row, "i_id")? {
        Some(_) => Some(identity_ref(row, "i")?),
        None => None,
    };
    Ok(Suggestion {
        id: rows::get(row, "id")?,
        person_id: rows::id_col(row, "person_id")?,
        other_person_id: rows::id_col(row, "other_person_id")?,
        identity,
        reason: SuggestionReason::parse(&reason)
            .ok_or_else(|| StoreError::Corrupt(format!("suggestion reason {reason:?}")))?,
        detail: rows::get(row, "detail")?,
        source: rows::get(row, "source")?,
        status: rows::get(row, "status")?,
        created_at: rows::time(row, "created_at")?,
    })
}

/// Open suggestions involving a person.
pub async fn suggestions(pool: &AnyPool, person: PersonId) -> Result<Vec<Suggestion>, StoreError> {
    let rows = sqlx::query(&format!(
        "{SUGGESTION_QUERY} WHERE s.status = 'open' AND (s.person_id = $1 OR s.other_person_id = $1) ORDER BY s.id"
    ))
    .bind(person.to_string())
    .fetch_all(pool)
    .await?;
    rows.iter().map(suggestion).collect()
}

/// One suggestion, inside a transaction.
pub async fn suggestion_in(tx: &mut AnyConnection, id: i64) -> Result<Option<Suggestion>, StoreError> {
    let row = sqlx::query(&format!("{SUGGESTION_QUERY} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    row.as_ref().map(suggestion).transpose()
}

/// Audit entries involving a person, newest first.
pub async fn audit_log(pool: &AnyPool, person: PersonId) -> Result<Vec<AuditEntry>, StoreError> {
    let rows =
        sqlx::query("SELECT * FROM audit_log WHERE person_id = $1 OR other_person_id = $1 ORDER BY id DESC LIMIT 500")
            .bind(person.to_string())
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                id: rows::get(r, "id")?,
                action: rows::get(r, "action")?,
                actor: rows::get(r, "actor")?,
                reason: rows::get(r, "reason")?,
                person_id: rows::opt_id_col(r, "person_id")?,
                other_person_id: rows::opt_id_col(r, "other_person_id")?,
                detail: rows::json(&rows::get::<String>(r, "detail")?)?,
                created_at: rows::time(r, "created_at")?,
            })
        })
        .collect()
}

/// A person's timeline from the event log.
pub async fn timeline(
    pool: &AnyPool,
    person: PersonId,
    cursor: Option<i64>,
    limit: u32,
) -> Result<Page<TimelineEntry>, StoreError> {
    let limit = limit.clamp(1, MAX_PAGE);
    // A merged-away id shows the surviving person's timeline.
    let live: Option<String> = sqlx::query_scalar("SELECT COALESCE(merged_into, id) FROM persons WHERE id = $1")
        .bind(person.to_string())
        .fetch_optional(pool)
        .await?;
    let Some(live) = live else {
        return Err(StoreError::NotFound(format!("person {person}")));
    };
    let rows = sqlx::query(
        "SELECT position, kind, created_at, conversation_id, message_id, data FROM events
         WHERE person_id = $1 AND position > $2 ORDER BY position LIMIT $3",
    )
    .bind(live)
    .bind(cursor.unwrap_or(0))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let mut items = rows
        .iter()
        .map(|r| {
            Ok(TimelineEntry {
                position: rows::get(r, "position")?,
                kind: rows::get(r, "kind")?,
                at: rows::time(r, "created_at")?,
                conversation_id: rows::opt_id_col(r, "conversation_id")?,
                message_id: rows::opt_id_col(r, "message_id")?,
                data: rows::json(&rows::get::<String>(r, "data")?)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|e| e.position.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Channel metrics over a time range.
pub async fn metrics(pool: &AnyPool, query: &MetricsQuery) -> Result<MetricsReport, StoreError> {
    let (from, to) = (query.from.as_millis(), query.to.as_millis());
    let messages = fetch(
        pool,
        "SELECT connector_id, channel, direction, status FROM messages
         WHERE created_at >= $1 AND created_at < $2 AND kind = 'text'",
        from,
        to,
    )
    .await?
    .iter()
    .map(|r| {
        Ok(MessageFact {
            connector: rows::connector(&rows::get::<String>(r, "connector_id")?)?,
            channel: rows::get(r, "channel")?,
            direction: match rows::get::<String>(r, "direction")?.as_str() {
                "inbound" => Direction::Inbound,
                _ => Direction::Outbound,
            },
            status: rows::status(&rows::get::<String>(r, "status")?)?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    const CONVERSATION_FACT: &str = "SELECT first_connector_id, first_channel, first_inbound_at, first_response_at,
        resolved_at, reopen_count, outbound_count FROM conversations";
    let conversation = |r: &AnyRow| -> Result<ConversationFact, StoreError> {
        Ok(ConversationFact {
            connector: rows::connector(&rows::get::<String>(r, "first_connector_id")?)?,
            channel: rows::get(r, "first_channel")?,
            first_inbound_at: rows::opt_time(r, "first_inbound_at")?,
            first_response_at: rows::opt_time(r, "first_response_at")?,
            resolved_at: rows::opt_time(r, "resolved_at")?,
            reopen_count: rows::get(r, "reopen_count")?,
            outbound_count: rows::get(r, "outbound_count")?,
        })
    };
    let started = fetch(
        pool,
        &format!("{CONVERSATION_FACT} WHERE created_at >= $1 AND created_at < $2"),
        from,
        to,
    )
    .await?
    .iter()
    .map(conversation)
    .collect::<Result<Vec<_>, _>>()?;
    let resolved = fetch(
        pool,
        &format!("{CONVERSATION_FACT} WHERE status = 'resolved' AND resolved_at >= $1 AND resolved_at < $2"),
        from,
        to,
    )
    .await?
    .iter()
    .map(conversation)
    .collect::<Result<Vec<_>, _>>()?;
    let csat = fetch(
        pool,
        "SELECT connector_id, channel, score, scale FROM csat WHERE created_at >= $1 AND created_at < $2",
        from,
        to,
    )
    .await?
    .iter()
    .map(|r| {
        Ok(CsatFact {
            connector: rows::connector(&rows::get::<String>(r, "connector_id")?)?,
            channel: rows::get(r, "channel")?,
            score: rows::get::<i64>(r, "score")?.clamp(0, 255) as u8,
            scale: rows::get::<i64>(r, "scale")?.clamp(0, 255) as u8,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let facts = MetricsFacts {
        messages,
        started,
        resolved,
        csat,
    };
    Ok(metrics::aggregate(query, &facts))
}

async fn fetch<'e, E: Executor<'e, Database = sqlx::Any>>(
    executor: E,
    sql: &'e str,
    from: i64,
    to: i64,
) -> Result<Vec<AnyRow>, StoreError> {
    Ok(sqlx::query(sql).bind(from).bind(to).fetch_all(executor).await?)
}
