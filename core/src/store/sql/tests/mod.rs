//! The store's test suite, run on SQLite and on PostgreSQL.
//!
//! Each test is an `async fn(Kind)`; `on_both_backends!` makes a test of it
//! per backend. PostgreSQL tests use `OMNI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) with a schema of their own, so
//! they run in parallel; without a server they are skipped, unless
//! `OMNI_REQUIRE_SERVICES=1`, which makes them fail.

use super::*;
use crate::{
    Clock, ConversationStatus, IdentityClaim, IdentityKey, IdentityKind, InboundEvent, InboundMessage, IngestBatch,
    KvChanges, NewOutbound,
};

mod basics;
mod continuity;
mod delivery;
mod graph;
mod metrics;
mod properties;
mod stream;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A store on a fresh database, cleaned up on drop.
pub struct TestStore {
    pub store: SqlStore,
    pub clock: Clock,
    _cleanup: Cleanup,
}

impl std::ops::Deref for TestStore {
    type Target = SqlStore;
    fn deref(&self) -> &SqlStore {
        &self.store
    }
}

enum Cleanup {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema(#[allow(dead_code)] super::testing::TestSchema),
}

/// Options with a manual clock at a fixed start.
pub fn options() -> StoreOptions {
    StoreOptions {
        clock: Clock::manual(Timestamp::from_millis(1_800_000_000_000)),
        ..StoreOptions::default()
    }
}

/// A store on `kind` with default test options; `None` when PostgreSQL is
/// unavailable and not required.
pub async fn open(kind: Kind) -> Option<TestStore> {
    open_with(kind, options()).await
}

/// A store on `kind` with the given options.
pub async fn open_with(kind: Kind, options: StoreOptions) -> Option<TestStore> {
    sqlx::any::install_default_drivers();
    let clock = options.clock.clone();
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("omni.db").display());
            let store = SqlStore::open(&url, options).await.expect("open SQLite");
            Some(TestStore {
                store,
                clock,
                _cleanup: Cleanup::Dir(dir),
            })
        }
        Kind::Postgres => {
            let schema = super::testing::TestSchema::create().await?;
            let store = SqlStore::open(&schema.url, options).await.expect("open PostgreSQL");
            Some(TestStore {
                store,
                clock,
                _cleanup: Cleanup::Schema(schema),
            })
        }
    }
}

/// Generates a test per backend for each named `async fn(Kind)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::store::sql::tests::Kind::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::store::sql::tests::Kind::Postgres).await
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

// ----- builders shared by the tests -----

pub fn webchat() -> ConnectorId {
    ConnectorId::new("webchat").unwrap()
}

pub fn key(kind: IdentityKind, value: &str) -> IdentityKey {
    IdentityKey::normalize(kind, value, "webchat").unwrap()
}

pub fn visitor(id: &str) -> IdentityClaim {
    IdentityClaim {
        key: key(IdentityKind::ChannelUser, id),
        verified: false,
    }
}

pub fn claim(kind: IdentityKind, value: &str, verified: bool) -> IdentityClaim {
    IdentityClaim {
        key: key(kind, value),
        verified,
    }
}

pub fn message(external_id: &str, sender: IdentityClaim, text: &str) -> InboundMessage {
    InboundMessage {
        external_id: external_id.to_owned(),
        sender,
        claims: Vec::new(),
        display_name: None,
        text: text.to_owned(),
        attachments: Vec::new(),
        thread_id: None,
        reply_to: None,
        references: Vec::new(),
        sent_at: None,
    }
}

pub fn batch_on(connector: &str, channel: &str, events: Vec<InboundEvent>) -> IngestBatch {
    IngestBatch {
        workspace: crate::DEFAULT_WORKSPACE.to_owned(),
        connector: ConnectorId::new(connector).unwrap(),
        channel: channel.to_owned(),
        events,
        kv: KvChanges::default(),
    }
}

pub fn batch(events: Vec<InboundEvent>) -> IngestBatch {
    batch_on("webchat", "webchat", events)
}

pub async fn ingest(store: &SqlStore, m: InboundMessage) -> IngestReport {
    store.ingest(batch(vec![InboundEvent::Message(m)])).await.unwrap()
}

pub async fn ingest_on(store: &SqlStore, connector: &str, channel: &str, m: InboundMessage) -> IngestReport {
    store
        .ingest(batch_on(connector, channel, vec![InboundEvent::Message(m)]))
        .await
        .unwrap()
}

pub fn reply_to(conversation_id: ConversationId, text: &str) -> NewOutbound {
    NewOutbound {
        conversation_id,
        text: text.to_owned(),
        attachments: Vec::new(),
        connector: None,
    }
}

pub async fn all_conversations(store: &SqlStore) -> Vec<Conversation> {
    store
        .conversations(ConversationQuery {
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
}

pub async fn only_conversation(store: &SqlStore) -> ConversationDetail {
    let all = all_conversations(store).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    store.conversation(all[0].id).await.unwrap().unwrap()
}

/// The person a message's conversation belongs to.
pub async fn person_of(store: &SqlStore, message: crate::MessageId) -> PersonId {
    for c in all_conversations(store).await {
        let detail = store.conversation(c.id).await.unwrap().unwrap();
        if let Some(m) = detail.messages.iter().find(|m| m.id == message) {
            return m.person_id;
        }
    }
    panic!("message {message} not found")
}

pub fn decision(reason: &str) -> Decision {
    Decision {
        actor: "operator:test".into(),
        reason: reason.into(),
    }
}
