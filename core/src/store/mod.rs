//! The conversation store: one trait, one SQL implementation that runs on
//! SQLite (embedded default) and PostgreSQL (several hosts share it).
//!
//! Every operation is a domain operation that runs in one transaction, so
//! the host never sees SQL. [`open`] picks the backend from the URL.

use std::time::Duration;

use async_trait::async_trait;

use crate::Clock;
use crate::identity::IdentityGuards;
use crate::metrics::{MetricsQuery, MetricsReport};
use crate::{
    AuditEntry, ConnectorId, Conversation, ConversationDetail, ConversationId, ConversationStatus, ConversationUpdate,
    DeadLetter, DeadLetterQuery, IdentityKey, IngestBatch, IngestReport, KvChanges, LoggedEvent, Message, NewOutbound,
    NewParked, OutboxJob, Page, ParkedEvent, ParkedOutcome, Person, PersonId, SendOutcome, StartAt, SubscriberStatus,
    Suggestion, TimelineEntry, Timestamp,
};

pub mod sql;

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
    #[error("unsupported database URL {0:?}: use sqlite://path/to/omni.db or postgres://user@host/db")]
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
    /// A subscriber's cursor moved under the host delivering to it (a replay,
    /// or another host took its lease over).
    #[error("subscriber {0} was moved by a replay or another host; delivery resumes from its new cursor")]
    SubscriberMoved(String),
    /// A merge the guards refuse; the reason says which guard.
    #[error("merge refused: {0}")]
    MergeRefused(String),
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
    /// Stored data could not be read back (a bug or a hand-edited database).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// What a new inbound message does to a resolved conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterResolved {
    /// Reopen it if it was resolved within this long ago; otherwise start a
    /// new conversation.
    Reopen(Duration),
    /// Always start a new conversation.
    New,
}

/// How the store groups messages and links identities.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// An inbound message continues the person's open (or pending)
    /// conversation if it had a message within this window, whatever the channel.
    pub conversation_window: Duration,
    /// What happens after a conversation is resolved.
    pub after_resolved: AfterResolved,
    /// Blocklist, caps and unique kinds.
    pub guards: IdentityGuards,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            conversation_window: Duration::from_secs(7 * 24 * 3600),
            after_resolved: AfterResolved::Reopen(Duration::from_secs(3 * 24 * 3600)),
            guards: IdentityGuards::default(),
            clock: Clock::system(),
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

/// Who asks for an identity-graph change, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `operator:<name>`, `api:<token name>`.
    pub actor: String,
    /// Why, for the audit log.
    pub reason: String,
}

/// The conversation store.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores one plugin call's events and key-value writes in one
    /// transaction: dedupes on (connector, external id), resolves identities
    /// to persons (merging on trusted links, suggesting on untrusted ones),
    /// continues or opens conversations, applies receipts, logs events.
    async fn ingest(&self, batch: IngestBatch) -> Result<IngestReport, StoreError>;

    /// Reads a key of a connector's key-value store.
    async fn kv_get(&self, connector: &ConnectorId, key: &str) -> Result<Option<KvEntry>, StoreError>;

    /// Stores an outbound message as `queued` with its outbox row.
    async fn enqueue_outbound(&self, outbound: NewOutbound) -> Result<Message, StoreError>;

    /// Claims up to `limit` due outbox rows, at most one per conversation and
    /// always the oldest of its conversation, leased until `now + lease`.
    /// Rows of connectors in `skip` (busy or out of rate) are left alone.
    async fn claim_outbox(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: u32,
        skip: &[ConnectorId],
    ) -> Result<Vec<OutboxJob>, StoreError>;

    /// Gives a claimed row back untried, without counting the attempt.
    async fn release_outbox(&self, job: &OutboxJob) -> Result<(), StoreError>;

    /// Records the result of a send, with the plugin call's key-value changes.
    async fn finish_outbox(&self, job: &OutboxJob, outcome: SendOutcome, kv: KvChanges) -> Result<(), StoreError>;

    /// When the next claimable outbox row becomes due (a leased row counts at
    /// its lease's end; a row behind an earlier one of its conversation does
    /// not count), if any is waiting.
    async fn next_outbox_due(&self, skip: &[ConnectorId]) -> Result<Option<Timestamp>, StoreError>;

    /// Replies the dispatcher gave up on.
    async fn dead_letters(&self, query: DeadLetterQuery) -> Result<Vec<DeadLetter>, StoreError>;

    /// Puts a dead letter back in the outbox with a fresh attempt budget;
    /// `actor` is logged.
    async fn retry_dead_letter(&self, id: i64, actor: &str) -> Result<Message, StoreError>;

    /// Lists conversations, most recently active first.
    async fn conversations(&self, query: ConversationQuery) -> Result<Page<Conversation>, StoreError>;

    /// One conversation with its messages.
    async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationDetail>, StoreError>;

    /// Changes a conversation's status, assignee or tags.
    async fn update_conversation(
        &self,
        id: ConversationId,
        update: ConversationUpdate,
        actor: &str,
    ) -> Result<Conversation, StoreError>;

    /// One person with identities and links; a merged-away id leads to the
    /// person it was merged into.
    async fn person(&self, id: PersonId) -> Result<Option<Person>, StoreError>;

    /// Merges `other` into `person` by an operator's decision, unless a guard
    /// refuses ([`StoreError::MergeRefused`]). Returns the surviving person.
    async fn merge_persons(&self, person: PersonId, other: PersonId, decision: Decision) -> Result<Person, StoreError>;

    /// Removes a link; if it was trusted, the person splits into the
    /// connected components that remain, and conversations and messages
    /// follow their identities. Returns the resulting persons.
    async fn remove_link(&self, link: i64, decision: Decision) -> Result<Vec<PersonId>, StoreError>;

    /// Open merge suggestions involving a person.
    async fn suggestions(&self, person: PersonId) -> Result<Vec<Suggestion>, StoreError>;

    /// Accepts (merging the two persons) or dismisses a suggestion.
    async fn decide_suggestion(&self, id: i64, accept: bool, decision: Decision) -> Result<Suggestion, StoreError>;

    /// Merges, splits and refusals involving a person, newest first.
    async fn audit_log(&self, person: PersonId) -> Result<Vec<AuditEntry>, StoreError>;

    /// A person's timeline in event-log order, from after `cursor`.
    async fn timeline(
        &self,
        person: PersonId,
        cursor: Option<i64>,
        limit: u32,
    ) -> Result<Page<TimelineEntry>, StoreError>;

    /// Channel metrics over a time range.
    async fn metrics(&self, query: MetricsQuery) -> Result<MetricsReport, StoreError>;

    /// Checks that the database answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// Up to `limit` events of the log after position `after`, in order.
    async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<LoggedEvent>, StoreError>;

    /// The events at these positions, in log order (missing ones skipped).
    async fn events_at(&self, positions: &[i64]) -> Result<Vec<LoggedEvent>, StoreError>;

    /// The position of the newest event (0 when the log is empty).
    async fn event_head(&self) -> Result<i64, StoreError>;

    /// Creates a subscriber if new (starting at `start`) and takes or renews
    /// its lease for `holder` until `lease_until`. Returns its cursor, or
    /// `None` while another holder's lease runs.
    async fn acquire_subscriber(
        &self,
        name: &str,
        start: StartAt,
        holder: &str,
        lease_until: Timestamp,
    ) -> Result<Option<i64>, StoreError>;

    /// Moves a subscriber's cursor from `from` to `to`, parking `parked` in
    /// the same transaction; fails with [`StoreError::SubscriberMoved`] if
    /// the cursor is not at `from` or the lease is gone.
    async fn advance_subscriber(
        &self,
        name: &str,
        holder: &str,
        from: i64,
        to: i64,
        parked: Vec<NewParked>,
        lease_until: Timestamp,
    ) -> Result<(), StoreError>;

    /// Gives up a subscriber's lease.
    async fn release_subscriber(&self, name: &str, holder: &str) -> Result<(), StoreError>;

    /// Person keys with events waiting for this subscriber.
    async fn waiting_persons(&self, name: &str) -> Result<Vec<String>, StoreError>;

    /// Due waiting events of a subscriber, each the oldest of its person.
    async fn parked_due(&self, name: &str, limit: u32) -> Result<Vec<ParkedEvent>, StoreError>;

    /// When the next waiting event of a subscriber becomes due.
    async fn parked_next_due(&self, name: &str) -> Result<Option<Timestamp>, StoreError>;

    /// Records the outcome of retrying a parked event.
    async fn finish_parked(&self, id: i64, outcome: ParkedOutcome) -> Result<(), StoreError>;

    /// Events subscribers gave up on (of one subscriber, or all).
    async fn subscriber_dead_letters(&self, name: Option<&str>, limit: u32) -> Result<Vec<ParkedEvent>, StoreError>;

    /// Puts a subscriber's dead letter back in line.
    async fn retry_subscriber_dead_letter(&self, id: i64) -> Result<ParkedEvent, StoreError>;

    /// Moves a subscriber's cursor back (or forward) to `position`.
    async fn replay_subscriber(&self, name: &str, position: i64) -> Result<(), StoreError>;

    /// Every subscriber's progress.
    async fn subscribers(&self) -> Result<Vec<SubscriberStatus>, StoreError>;

    /// Links a CRM record id (`key`, kind `crm_id`) to a person as a trusted,
    /// verified identity; `source` is the integration instance.
    async fn link_record(&self, person: PersonId, key: IdentityKey, source: &str) -> Result<PersonId, StoreError>;

    /// A cached integration profile of a person and when it was fetched.
    async fn cached_profile(
        &self,
        connector: &ConnectorId,
        person: PersonId,
    ) -> Result<Option<(Option<serde_json::Value>, Timestamp)>, StoreError>;

    /// Caches what an integration said about a person (`None`: nothing).
    async fn store_profile(
        &self,
        connector: &ConnectorId,
        person: PersonId,
        data: Option<serde_json::Value>,
    ) -> Result<(), StoreError>;
}

/// Opens the store a database URL names, creating and migrating it as needed.
pub async fn open(url: &str, options: StoreOptions) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    Ok(std::sync::Arc::new(sql::SqlStore::open(url, options).await?))
}
