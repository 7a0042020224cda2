//! The conversation store: one trait, one implementation per database.
//!
//! Every operation is a domain operation that runs in one transaction, so a
//! backend can be swapped without the host noticing. SQLite is the embedded
//! default ([`sqlite::SqliteStore`]).

use std::time::Duration;

use async_trait::async_trait;

use crate::{
    ConnectorId, Conversation, ConversationDetail, ConversationId, ConversationStatus, IngestBatch, IngestReport,
    KvChanges, Message, NewOutbound, OutboxJob, Page, Person, PersonId, SendOutcome, Timestamp,
};

pub mod sqlite;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the operation.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The database URL names a backend this build does not support.
    #[error("unsupported database URL {0:?}: use sqlite://path/to/omni.db")]
    UnsupportedUrl(String),
    /// A referenced entity does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A key the plugin call read changed before its writes were stored.
    #[error("a concurrent call changed key {key:?} of connector {connector}")]
    KvConflict {
        /// The connector instance.
        connector: ConnectorId,
        /// The key.
        key: String,
    },
    /// The outbox row was claimed again by someone else (the lease expired).
    #[error("outbox row {0} was claimed again before this attempt finished")]
    LeaseLost(i64),
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
    /// Stored data could not be read back (a bug or a hand-edited database).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// How the store groups messages into conversations.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// An inbound message continues the person's open conversation if that
    /// conversation had a message within this window; else a new one starts.
    pub conversation_window: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            conversation_window: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Filters and paging for listing conversations.
#[derive(Debug, Clone, Default)]
pub struct ConversationQuery {
    /// Only this status.
    pub status: Option<ConversationStatus>,
    /// Only this person's.
    pub person_id: Option<PersonId>,
    /// Page size (the store caps it at 200).
    pub limit: u32,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// A stored key-value entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The value.
    pub value: Vec<u8>,
    /// When it was written.
    pub updated_at: Timestamp,
}

/// The conversation store.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores one plugin call's events and key-value writes in one
    /// transaction: dedupes messages on (connector, external id), resolves
    /// identities to persons, continues or opens conversations, applies
    /// delivery receipts.
    async fn ingest(&self, batch: IngestBatch) -> Result<IngestReport, StoreError>;

    /// Reads a key of a connector's key-value store.
    async fn kv_get(&self, connector: &ConnectorId, key: &str) -> Result<Option<KvEntry>, StoreError>;

    /// Stores an outbound message as `queued` with its outbox row.
    async fn enqueue_outbound(&self, outbound: NewOutbound) -> Result<Message, StoreError>;

    /// Claims up to `limit` due outbox rows, at most one per conversation and
    /// always the oldest of its conversation, leased until `now + lease`.
    async fn claim_outbox(&self, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<OutboxJob>, StoreError>;

    /// Records the result of a send, with the plugin call's key-value changes.
    async fn finish_outbox(&self, job: &OutboxJob, outcome: SendOutcome, kv: KvChanges) -> Result<(), StoreError>;

    /// When the next claimable outbox row becomes due (a leased row counts at
    /// its lease's end; a row behind an earlier one of its conversation does
    /// not count), if any is waiting.
    async fn next_outbox_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Lists conversations, most recently active first.
    async fn conversations(&self, query: ConversationQuery) -> Result<Page<Conversation>, StoreError>;

    /// One conversation with its messages.
    async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationDetail>, StoreError>;

    /// One person with identities and claims.
    async fn person(&self, id: PersonId) -> Result<Option<Person>, StoreError>;

    /// Checks that the database answers.
    async fn health(&self) -> Result<(), StoreError>;
}

/// Opens the store a database URL names, creating and migrating it as needed.
pub async fn open(url: &str, options: StoreOptions) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(sqlite::SqliteStore::open(url, options).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
