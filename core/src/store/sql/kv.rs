//! The per-connector key-value store, with optimistic checks (see `crate::kv`).

use sqlx::AnyConnection;
use sqlx::AnyPool;

use super::rows;
use crate::store::{KvEntry, StoreError};
use crate::{ConnectorId, KvChanges, Timestamp};

/// Reads a key.
pub async fn get(pool: &AnyPool, connector: &ConnectorId, key: &str) -> Result<Option<KvEntry>, StoreError> {
    let row = sqlx::query("SELECT value, updated_at FROM kv WHERE connector_id = $1 AND key = $2")
        .bind(connector.as_str())
        .bind(key)
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        Ok(KvEntry {
            value: rows::get(&row, "value")?,
            updated_at: rows::time(&row, "updated_at")?,
        })
    })
    .transpose()
}

/// Checks that every key the call read is unchanged, then applies its writes.
pub async fn check_and_apply(
    tx: &mut AnyConnection,
    connector: &ConnectorId,
    kv: &KvChanges,
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut keys: Vec<String> = kv
        .reads
        .keys()
        .chain(kv.writes.keys())
        .map(|key| format!("kv|{connector}|{key}"))
        .collect();
    super::locks::keys(tx, &mut keys).await?;
    for (key, seen) in &kv.reads {
        let current: Option<Vec<u8>> = sqlx::query_scalar("SELECT value FROM kv WHERE connector_id = $1 AND key = $2")
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
    for (key, value) in &kv.writes {
        match value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO kv (connector_id, key, value, updated_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (connector_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .bind(connector.as_str())
                .bind(key)
                .bind(value.as_slice())
                .bind(now.as_millis())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM kv WHERE connector_id = $1 AND key = $2")
                    .bind(connector.as_str())
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    Ok(())
}
