//! Subscribers' durable cursors, leases and parked events (see
//! [`crate::stream`]), and the profiles integrations looked up.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool};

use super::{locks, rows};
use crate::store::StoreError;
use crate::{NewParked, ParkedEvent, ParkedOutcome, ParkedState, PersonId, StartAt, SubscriberStatus, Timestamp};

/// Creates the subscriber if it is new and takes or renews its lease for
/// `holder`. Returns the cursor when `holder` holds the lease, `None` when
/// another holder's lease is still running.
pub async fn acquire(
    tx: &mut AnyConnection,
    name: &str,
    start: StartAt,
    holder: &str,
    lease_until: Timestamp,
    now: Timestamp,
) -> Result<Option<i64>, StoreError> {
    let lock = locks::for_update(tx);
    let row = sqlx::query(&format!(
        "SELECT position, lease_holder, leased_until FROM subscribers WHERE name = $1{lock}"
    ))
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        let position: i64 = match start {
            StartAt::Beginning => 0,
            StartAt::Now => {
                sqlx::query_scalar("SELECT position FROM event_head WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        sqlx::query(
            "INSERT INTO subscribers (name, position, lease_holder, leased_until, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(name)
        .bind(position)
        .bind(holder)
        .bind(lease_until.as_millis())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        return Ok(Some(position));
    };
    let current: Option<String> = rows::get(&row, "lease_holder")?;
    let expired = rows::get::<i64>(&row, "leased_until")? < now.as_millis();
    if current.as_deref() != Some(holder) && !expired {
        return Ok(None);
    }
    sqlx::query("UPDATE subscribers SET lease_holder = $1, leased_until = $2 WHERE name = $3")
        .bind(holder)
        .bind(lease_until.as_millis())
        .bind(name)
        .execute(&mut *tx)
        .await?;
    Ok(Some(rows::get(&row, "position")?))
}

/// Moves the cursor from `from` to `to` and parks `parked`, if `holder`
/// still holds the lease and nobody moved the cursor meanwhile (a replay).
#[allow(clippy::too_many_arguments)]
pub async fn advance(
    tx: &mut AnyConnection,
    name: &str,
    holder: &str,
    from: i64,
    to: i64,
    parked: &[NewParked],
    lease_until: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    let moved = || StoreError::SubscriberMoved(name.to_owned());
    let lock = locks::for_update(tx);
    let row = sqlx::query(&format!(
        "SELECT position, lease_holder FROM subscribers WHERE name = $1{lock}"
    ))
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(moved)?;
    let current: Option<String> = rows::get(&row, "lease_holder")?;
    if current.as_deref() != Some(holder) || rows::get::<i64>(&row, "position")? != from {
        return Err(moved());
    }
    for p in parked {
        sqlx::query(
            "INSERT INTO subscriber_parked
                 (subscriber, position, person_key, state, attempts, next_attempt_at, last_error, created_at, updated_at)
             VALUES ($1, $2, $3, $8, $4, $5, $6, $7, $7)
             ON CONFLICT (subscriber, position) DO NOTHING",
        )
        .bind(name)
        .bind(p.position)
        .bind(&p.person_key)
        .bind(i64::from(p.attempts))
        .bind(p.next_attempt_at.as_millis())
        .bind(p.error.as_deref())
        .bind(now.as_millis())
        .bind(p.state.as_str())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE subscribers SET position = $1, leased_until = $2, updated_at = $3 WHERE name = $4")
        .bind(to)
        .bind(lease_until.as_millis())
        .bind(now.as_millis())
        .bind(name)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Gives the lease up (on shutdown), so another host can take over at once.
pub async fn release(tx: &mut AnyConnection, name: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE subscribers SET lease_holder = NULL, leased_until = 0 WHERE name = $1 AND lease_holder = $2")
        .bind(name)
        .bind(holder)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Persons with events waiting for this subscriber: their new events must
/// queue behind.
pub async fn waiting_persons(pool: &AnyPool, name: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT person_key FROM subscriber_parked WHERE subscriber = $1 AND state = 'waiting'",
    )
    .bind(name)
    .fetch_all(pool)
    .await?)
}

/// Waiting rows that are first in line for their person.
const HEAD_OF_PERSON: &str = "subscriber = $1 AND state = 'waiting'
    AND NOT EXISTS (SELECT 1 FROM subscriber_parked q WHERE q.subscriber = subscriber_parked.subscriber
        AND q.person_key = subscriber_parked.person_key AND q.state = 'waiting'
        AND q.position < subscriber_parked.position)";

const PARKED_COLUMNS: &str =
    "id, subscriber, position, person_key, state, attempts, next_attempt_at, last_error, created_at";

fn parked(row: &AnyRow) -> Result<ParkedEvent, StoreError> {
    let state: String = rows::get(row, "state")?;
    Ok(ParkedEvent {
        id: rows::get(row, "id")?,
        subscriber: rows::get(row, "subscriber")?,
        position: rows::get(row, "position")?,
        person_key: rows::get(row, "person_key")?,
        state: ParkedState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("parked state {state:?}")))?,
        attempts: u32::try_from(rows::get::<i64>(row, "attempts")?).unwrap_or(u32::MAX),
        next_attempt_at: rows::time(row, "next_attempt_at")?,
        last_error: rows::get(row, "last_error")?,
        created_at: rows::time(row, "created_at")?,
    })
}

/// Due waiting events, each the oldest waiting one of its person.
pub async fn due(pool: &AnyPool, name: &str, now: Timestamp, limit: u32) -> Result<Vec<ParkedEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {PARKED_COLUMNS} FROM subscriber_parked WHERE {HEAD_OF_PERSON} AND next_attempt_at <= $2
         ORDER BY position LIMIT $3"
    ))
    .bind(name)
    .bind(now.as_millis())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(parked).collect()
}

/// When the next waiting event that is first in line becomes due.
pub async fn next_due(pool: &AnyPool, name: &str) -> Result<Option<Timestamp>, StoreError> {
    let next: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT MIN(next_attempt_at) FROM subscriber_parked WHERE {HEAD_OF_PERSON}"
    ))
    .bind(name)
    .fetch_one(pool)
    .await?;
    Ok(next.map(Timestamp::from_millis))
}

/// Records what became of retrying a parked event.
pub async fn finish(
    tx: &mut AnyConnection,
    id: i64,
    outcome: &ParkedOutcome,
    now: Timestamp,
) -> Result<(), StoreError> {
    match outcome {
        ParkedOutcome::Delivered => {
            sqlx::query("DELETE FROM subscriber_parked WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        ParkedOutcome::Retry { error, at } => {
            sqlx::query(
                "UPDATE subscriber_parked SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2,
                        updated_at = $3
                 WHERE id = $4 AND state = 'waiting'",
            )
            .bind(at.as_millis())
            .bind(error)
            .bind(now.as_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        ParkedOutcome::Dead { error } => {
            sqlx::query(
                "UPDATE subscriber_parked SET state = 'dead', attempts = attempts + 1, last_error = $1, updated_at = $2
                 WHERE id = $3 AND state = 'waiting'",
            )
            .bind(error)
            .bind(now.as_millis())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// Dead letters, of one subscriber or all, oldest first.
pub async fn dead_letters(pool: &AnyPool, name: Option<&str>, limit: u32) -> Result<Vec<ParkedEvent>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {PARKED_COLUMNS} FROM subscriber_parked WHERE state = 'dead' AND ($1 IS NULL OR subscriber = $1)
         ORDER BY position LIMIT $2"
    ))
    .bind(name)
    .bind(i64::from(limit.clamp(1, 1000)))
    .fetch_all(pool)
    .await?;
    rows.iter().map(parked).collect()
}

/// Puts a dead letter back in line with a fresh attempt budget.
pub async fn retry_dead(tx: &mut AnyConnection, id: i64, now: Timestamp) -> Result<ParkedEvent, StoreError> {
    let updated = sqlx::query(
        "UPDATE subscriber_parked SET state = 'waiting', attempts = 0, next_attempt_at = $1, updated_at = $1
         WHERE id = $2 AND state = 'dead'",
    )
    .bind(now.as_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("subscriber dead letter {id}")));
    }
    let row = sqlx::query(&format!("SELECT {PARKED_COLUMNS} FROM subscriber_parked WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    parked(&row)
}

/// Moves a subscriber's cursor to `position`, so every later event is
/// delivered again; waiting events after it are dropped (they come again).
/// Creates the subscriber if it does not exist yet.
pub async fn replay(tx: &mut AnyConnection, name: &str, position: i64, now: Timestamp) -> Result<(), StoreError> {
    if position < 0 {
        return Err(StoreError::Invalid(format!(
            "cannot replay from position {position}; positions start at 0"
        )));
    }
    sqlx::query("DELETE FROM subscriber_parked WHERE subscriber = $1 AND state = 'waiting' AND position > $2")
        .bind(name)
        .bind(position)
        .execute(&mut *tx)
        .await?;
    let updated = sqlx::query("UPDATE subscribers SET position = $1, updated_at = $2 WHERE name = $3")
        .bind(position)
        .bind(now.as_millis())
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        sqlx::query("INSERT INTO subscribers (name, position, updated_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(position)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Every subscriber's progress.
pub async fn statuses(pool: &AnyPool) -> Result<Vec<SubscriberStatus>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.name, s.position,
                (SELECT position FROM event_head WHERE id = 1) - s.position AS lag,
                (SELECT COUNT(*) FROM subscriber_parked p WHERE p.subscriber = s.name AND p.state = 'waiting') AS waiting,
                (SELECT COUNT(*) FROM subscriber_parked p WHERE p.subscriber = s.name AND p.state = 'dead') AS dead
         FROM subscribers s ORDER BY s.name",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SubscriberStatus {
                name: rows::get(r, "name")?,
                position: rows::get(r, "position")?,
                lag: rows::get::<i64>(r, "lag")?.max(0),
                waiting: rows::get(r, "waiting")?,
                dead: rows::get(r, "dead")?,
            })
        })
        .collect()
}

/// A cached integration profile and when it was fetched; the data is
/// `None` when the integration knew nothing of the person.
pub async fn cached_profile(
    pool: &AnyPool,
    connector: &str,
    person: PersonId,
) -> Result<Option<(Option<serde_json::Value>, Timestamp)>, StoreError> {
    let row =
        sqlx::query("SELECT data, fetched_at FROM integration_profiles WHERE connector_id = $1 AND person_id = $2")
            .bind(connector)
            .bind(person.to_string())
            .fetch_optional(pool)
            .await?;
    row.map(|r| {
        let data = rows::get::<Option<String>>(&r, "data")?
            .map(|d| rows::json(&d))
            .transpose()?;
        Ok((data, rows::time(&r, "fetched_at")?))
    })
    .transpose()
}

/// Stores what an integration said about a person.
pub async fn store_profile(
    tx: &mut AnyConnection,
    connector: &str,
    person: PersonId,
    data: Option<&serde_json::Value>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO integration_profiles (connector_id, person_id, data, fetched_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (connector_id, person_id) DO UPDATE SET data = excluded.data, fetched_at = excluded.fetched_at",
    )
    .bind(connector)
    .bind(person.to_string())
    .bind(data.map(|d| d.to_string()))
    .bind(now.as_millis())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
