//! Explicit locks for concurrent writers on PostgreSQL.
//!
//! PostgreSQL transactions run READ COMMITTED; what must not race takes a
//! lock first: an advisory lock per identity (find-or-create), per
//! key-value key (optimistic checks), and a row lock per person (conversation
//! continuity, merges and splits). Locks are taken in a consistent order, and
//! a deadlock that slips through is retried. On SQLite every write already
//! runs alone (`BEGIN IMMEDIATE` on the single writer), so these are no-ops.

use sqlx::AnyConnection;

use crate::PersonId;
use crate::store::StoreError;

/// Whether the connection needs explicit locks.
pub fn concurrent(tx: &AnyConnection) -> bool {
    tx.backend_name() == "PostgreSQL"
}

/// `FOR UPDATE` where row locks exist.
pub fn for_update(tx: &AnyConnection) -> &'static str {
    if concurrent(tx) { " FOR UPDATE" } else { "" }
}

/// Takes transaction-scoped advisory locks on `keys`, in sorted order.
pub async fn keys(tx: &mut AnyConnection, keys: &mut Vec<String>) -> Result<(), StoreError> {
    if !concurrent(tx) {
        return Ok(());
    }
    keys.sort();
    keys.dedup();
    for key in keys.iter() {
        // The subquery keeps the void result out of the row the driver decodes.
        sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS locked")
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Locks a person's row and follows merges to the live person, whose row it
/// then holds. Returns the live person.
pub async fn live_person(tx: &mut AnyConnection, mut person: PersonId) -> Result<PersonId, StoreError> {
    let lock = for_update(tx);
    loop {
        let merged_into: Option<Option<String>> =
            sqlx::query_scalar(&format!("SELECT merged_into FROM persons WHERE id = $1{lock}"))
                .bind(person.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        match merged_into {
            None => return Err(StoreError::NotFound(format!("person {person}"))),
            Some(None) => return Ok(person),
            Some(Some(next)) => person = super::rows::id(&next)?,
        }
    }
}

/// Locks several persons' rows in id order (merges lock both sides).
pub async fn persons(tx: &mut AnyConnection, persons: &[PersonId]) -> Result<(), StoreError> {
    if !concurrent(tx) {
        return Ok(());
    }
    let mut sorted = persons.to_vec();
    sorted.sort();
    sorted.dedup();
    for person in sorted {
        sqlx::query("SELECT id FROM persons WHERE id = $1 FOR UPDATE")
            .bind(person.to_string())
            .fetch_optional(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Locks the person an identity belongs to, re-reading the identity after
/// the lock so a concurrent merge or split cannot leave it pointing
/// elsewhere. Returns the person, locked.
pub async fn person_of_identity(tx: &mut AnyConnection, identity: i64) -> Result<PersonId, StoreError> {
    let concurrent = concurrent(tx);
    loop {
        let current: Option<String> = sqlx::query_scalar("SELECT person_id FROM identities WHERE id = $1")
            .bind(identity)
            .fetch_one(&mut *tx)
            .await?;
        let Some(current) = current else {
            return Err(StoreError::Corrupt(format!("identity {identity} has no person")));
        };
        let person: PersonId = super::rows::id(&current)?;
        if !concurrent {
            // A single writer: nothing can move the identity meanwhile.
            return Ok(person);
        }
        let live = live_person(tx, person).await?;
        let after: Option<String> = sqlx::query_scalar("SELECT person_id FROM identities WHERE id = $1")
            .bind(identity)
            .fetch_one(&mut *tx)
            .await?;
        if after.as_deref() == Some(live.to_string().as_str()) {
            return Ok(live);
        }
    }
}
