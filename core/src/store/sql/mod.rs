//! The SQL store, one implementation for SQLite and PostgreSQL.
//!
//! Queries are written once with `$1`-style parameters, which both databases
//! accept, and run through sqlx's `Any` driver; only the schema
//! (`migrations/sqlite`, `migrations/postgres`) and how a write transaction
//! starts differ. SQLite writes go through one connection (SQLite has one
//! writer anyway) with `BEGIN IMMEDIATE`; PostgreSQL writes run READ
//! COMMITTED and take explicit locks where they must not race (see `locks`),
//! so identity resolution and continuity stay correct with several hosts
//! writing at once; the rare deadlock or unique-key race is retried.
//!
//! Modules: `graph` (identity resolution, merges, splits, suggestions),
//! `conversations` (continuity and status), `ingest` (one plugin call's
//! events), `outbox`, `kv`, `events` (the event log), `subscribers` (their
//! cursors, parked events and cached profiles), `read` (listings, timeline,
//! metrics) and `rows` (decoding).

use std::sync::Once;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection};

use super::{ConversationQuery, Decision, KvEntry, Store, StoreError, StoreOptions};
use crate::metrics::{MetricsQuery, MetricsReport};
use crate::{
    AuditEntry, ConnectorId, Conversation, ConversationDetail, ConversationId, ConversationUpdate, DeadLetter,
    DeadLetterQuery, IdentityKey, IngestBatch, IngestReport, KvChanges, LoggedEvent, Message, NewOutbound, NewParked,
    OutboxJob, Page, ParkedEvent, ParkedOutcome, Person, PersonId, SendOutcome, StartAt, SubscriberStatus, Suggestion,
    TimelineEntry, Timestamp,
};

mod conversations;
mod events;
mod graph;
mod ingest;
mod kv;
mod locks;
mod outbox;
mod read;
mod rows;
mod subscribers;

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Attempts of a write transaction that keeps hitting deadlocks or
/// unique-key races.
const WRITE_ATTEMPTS: usize = 12;

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The store over SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    backend: Backend,
    writer: AnyPool,
    reader: AnyPool,
    options: StoreOptions,
}

impl SqlStore {
    /// Opens (creating if missing) and migrates the database at `url`:
    /// `sqlite://path/to/omni.db` or `postgres://user@host:5432/db`.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        if url.starts_with("sqlite:") {
            Self::open_sqlite(url, options).await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Self::open_postgres(url, options).await
        } else {
            Err(StoreError::UnsupportedUrl(url.to_owned()))
        }
    }

    async fn open_sqlite(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let separator = if url.contains('?') { '&' } else { '?' };
        let pragmas = |pool: AnyPoolOptions| {
            pool.after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA busy_timeout = 10000",
                        "PRAGMA foreign_keys = ON",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
        };
        let writer = pragmas(AnyPoolOptions::new().max_connections(1))
            .connect(&format!("{url}{separator}mode=rwc"))
            .await?;
        SQLITE_MIGRATIONS.run(&writer).await?;
        let reader = pragmas(AnyPoolOptions::new().max_connections(4))
            .connect(&format!("{url}{separator}mode=ro"))
            .await?;
        Ok(Self {
            backend: Backend::Sqlite,
            writer,
            reader,
            options,
        })
    }

    async fn open_postgres(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        Ok(Self {
            backend: Backend::Postgres,
            writer: pool.clone(),
            reader: pool,
            options,
        })
    }

    /// The database behind the store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn begin_statement(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

/// Runs the body in a write transaction of `$store` and commits it, binding
/// the connection to `$tx`; on PostgreSQL a serialization failure (or a
/// unique-key race) runs the body again. (A macro rather than a function
/// taking an async closure: the futures must stay `Send` for the trait.)
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let store: &SqlStore = $store;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = store.writer.acquire().await?;
            let mut transaction = conn.begin_with(store.begin_statement()).await?;
            let result = {
                let $tx: &mut AnyConnection = &mut transaction;
                $body.await
            };
            let result = match result {
                Ok(value) => match events::seal(&mut transaction).await {
                    Ok(()) => transaction.commit().await.map(|()| value).map_err(StoreError::from),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match result {
                // Back off a little so the transactions that collided spread out.
                Err(e) if attempt < WRITE_ATTEMPTS && is_retryable(&e) => tokio::time::sleep(jitter(attempt)).await,
                other => break other,
            }
        }
    }};
}

/// Whether a failed write transaction may succeed when run again.
fn is_retryable(error: &StoreError) -> bool {
    let StoreError::Database(sqlx::Error::Database(db)) = error else {
        return false;
    };
    // 40001 serialization_failure, 40P01 deadlock_detected, 23505 unique_violation
    // (two transactions inserting the same new identity or message).
    matches!(db.code().as_deref(), Some("40001") | Some("40P01") | Some("23505"))
}

fn jitter(attempt: usize) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_micros(200 * attempt as u64 + u64::from(nanos % 1000))
}

#[async_trait]
impl Store for SqlStore {
    async fn ingest(&self, batch: IngestBatch) -> Result<IngestReport, StoreError> {
        write_tx!(self, |tx| ingest::ingest(tx, &self.options, &batch))
    }

    async fn kv_get(&self, connector: &ConnectorId, key: &str) -> Result<Option<KvEntry>, StoreError> {
        kv::get(&self.reader, connector, key).await
    }

    async fn enqueue_outbound(&self, outbound: NewOutbound) -> Result<Message, StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| outbox::enqueue(tx, &outbound, now))
    }

    async fn claim_outbox(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: u32,
        skip: &[ConnectorId],
    ) -> Result<Vec<OutboxJob>, StoreError> {
        write_tx!(self, |tx| outbox::claim(tx, now, lease, limit, skip))
    }

    async fn release_outbox(&self, job: &OutboxJob) -> Result<(), StoreError> {
        write_tx!(self, |tx| outbox::release(tx, job))
    }

    async fn finish_outbox(&self, job: &OutboxJob, outcome: SendOutcome, kv: KvChanges) -> Result<(), StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| outbox::finish(tx, job, &outcome, &kv, now))
    }

    async fn next_outbox_due(&self, skip: &[ConnectorId]) -> Result<Option<Timestamp>, StoreError> {
        outbox::next_due(&self.reader, skip).await
    }

    async fn dead_letters(&self, query: DeadLetterQuery) -> Result<Vec<DeadLetter>, StoreError> {
        outbox::dead_letters(&self.reader, &query).await
    }

    async fn retry_dead_letter(&self, id: i64, actor: &str) -> Result<Message, StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| outbox::retry_dead(tx, id, actor, now))
    }

    async fn conversations(&self, query: ConversationQuery) -> Result<Page<Conversation>, StoreError> {
        read::conversations(&self.reader, &query).await
    }

    async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationDetail>, StoreError> {
        read::conversation(&self.reader, id).await
    }

    async fn update_conversation(
        &self,
        id: ConversationId,
        update: ConversationUpdate,
        actor: &str,
    ) -> Result<Conversation, StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| conversations::update(tx, id, &update, actor, now))
    }

    async fn person(&self, id: PersonId) -> Result<Option<Person>, StoreError> {
        read::person(&self.reader, id).await
    }

    async fn merge_persons(&self, person: PersonId, other: PersonId, decision: Decision) -> Result<Person, StoreError> {
        let guards = &self.options.guards;
        let now = self.options.clock.now();
        let survivor = write_tx!(self, |tx| graph::operator_merge(
            tx, guards, person, other, &decision, now
        ))?;
        self.person(survivor)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("person {survivor}")))
    }

    async fn remove_link(&self, link: i64, decision: Decision) -> Result<Vec<PersonId>, StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| graph::remove_link(tx, link, &decision, now))
    }

    async fn suggestions(&self, person: PersonId) -> Result<Vec<Suggestion>, StoreError> {
        read::suggestions(&self.reader, person).await
    }

    async fn decide_suggestion(&self, id: i64, accept: bool, decision: Decision) -> Result<Suggestion, StoreError> {
        let guards = &self.options.guards;
        let now = self.options.clock.now();
        write_tx!(self, |tx| graph::decide_suggestion(
            tx, guards, id, accept, &decision, now
        ))
    }

    async fn audit_log(&self, person: PersonId) -> Result<Vec<AuditEntry>, StoreError> {
        read::audit_log(&self.reader, person).await
    }

    async fn timeline(
        &self,
        person: PersonId,
        cursor: Option<i64>,
        limit: u32,
    ) -> Result<Page<TimelineEntry>, StoreError> {
        read::timeline(&self.reader, person, cursor, limit).await
    }

    async fn metrics(&self, query: MetricsQuery) -> Result<MetricsReport, StoreError> {
        read::metrics(&self.reader, &query).await
    }

    async fn health(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<LoggedEvent>, StoreError> {
        events::after(&self.reader, after, limit).await
    }

    async fn events_at(&self, positions: &[i64]) -> Result<Vec<LoggedEvent>, StoreError> {
        events::at_positions(&self.reader, positions).await
    }

    async fn event_head(&self) -> Result<i64, StoreError> {
        events::head(&self.reader).await
    }

    async fn acquire_subscriber(
        &self,
        name: &str,
        start: StartAt,
        holder: &str,
        lease_until: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| subscribers::acquire(
            tx,
            name,
            start,
            holder,
            lease_until,
            now
        ))
    }

    async fn advance_subscriber(
        &self,
        name: &str,
        holder: &str,
        from: i64,
        to: i64,
        parked: Vec<NewParked>,
        lease_until: Timestamp,
    ) -> Result<(), StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| subscribers::advance(
            tx,
            name,
            holder,
            from,
            to,
            &parked,
            lease_until,
            now
        ))
    }

    async fn release_subscriber(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| subscribers::release(tx, name, holder))
    }

    async fn waiting_persons(&self, name: &str) -> Result<Vec<String>, StoreError> {
        subscribers::waiting_persons(&self.reader, name).await
    }

    async fn parked_due(&self, name: &str, limit: u32) -> Result<Vec<ParkedEvent>, StoreError> {
        let now = self.options.clock.now();
        subscribers::due(&self.reader, name, now, limit).await
    }

    async fn parked_next_due(&self, name: &str) -> Result<Option<Timestamp>, StoreError> {
        subscribers::next_due(&self.reader, name).await
    }

    async fn finish_parked(&self, id: i64, outcome: ParkedOutcome) -> Result<(), StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| subscribers::finish(tx, id, &outcome, now))
    }

    async fn subscriber_dead_letters(&self, name: Option<&str>, limit: u32) -> Result<Vec<ParkedEvent>, StoreError> {
        subscribers::dead_letters(&self.reader, name, limit).await
    }

    async fn retry_subscriber_dead_letter(&self, id: i64) -> Result<ParkedEvent, StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| subscribers::retry_dead(tx, id, now))
    }

    async fn replay_subscriber(&self, name: &str, position: i64) -> Result<(), StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| subscribers::replay(tx, name, position, now))
    }

    async fn subscribers(&self) -> Result<Vec<SubscriberStatus>, StoreError> {
        subscribers::statuses(&self.reader).await
    }

    async fn link_record(&self, person: PersonId, key: IdentityKey, source: &str) -> Result<PersonId, StoreError> {
        let guards = &self.options.guards;
        let now = self.options.clock.now();
        write_tx!(self, |tx| graph::link_record(tx, guards, person, &key, source, now))
    }

    async fn cached_profile(
        &self,
        connector: &ConnectorId,
        person: PersonId,
    ) -> Result<Option<(Option<serde_json::Value>, Timestamp)>, StoreError> {
        subscribers::cached_profile(&self.reader, connector.as_str(), person).await
    }

    async fn store_profile(
        &self,
        connector: &ConnectorId,
        person: PersonId,
        data: Option<serde_json::Value>,
    ) -> Result<(), StoreError> {
        let now = self.options.clock.now();
        write_tx!(self, |tx| subscribers::store_profile(
            tx,
            connector.as_str(),
            person,
            data.as_ref(),
            now
        ))
    }
}
