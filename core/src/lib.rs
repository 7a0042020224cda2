//! Omni's core: the domain model, the identity graph and the conversation
//! store.
//!
//! Everything here is independent of WebAssembly and HTTP. The host turns
//! plugin output into [`IngestBatch`]es of normalised [`InboundEvent`]s and
//! hands them to a [`Store`], which resolves each sender to a [`Person`] (a
//! connected component of trusted [`Link`]s between [`IdentityKey`]s, kept
//! honest by [`IdentityGuards`]), files messages into [`Conversation`]s
//! across channels, keeps the outbox of replies and an event log that
//! timelines are read from and subscribers follow ([`LoggedEvent`]).
//! [`metrics`] turns stored facts into channel metrics. [`store::sql`] runs on SQLite and PostgreSQL.

mod event;
pub mod identity;
mod ids;
mod kv;
pub mod metrics;
mod model;
mod outbox;
pub mod store;
mod stream;
mod timestamp;

pub use event::{
    CallEvent, CsatEvent, DeliveryUpdate, IdentityClaim, InboundEvent, InboundMessage, IngestBatch, IngestReport,
    IntegrationActivity, ProfileUpdate,
};
pub use identity::{Email, IdentityError, IdentityGuards, IdentityKey, IdentityKind, Normalizer, PhoneE164, Region};
pub use ids::{ConnectorId, ConversationId, InvalidConnectorId, MessageId, PersonId};
pub use kv::KvChanges;
pub use model::{
    Attachment, AuditEntry, Conversation, ConversationDetail, ConversationStatus, ConversationUpdate,
    DEFAULT_WORKSPACE, Direction, IdentityRef, Link, Message, MessageKind, MessageStatus, Page, Person, PersonIdentity,
    SourceKind, Suggestion, SuggestionReason, TimelineEntry,
};
pub use outbox::{DeadLetter, DeadLetterQuery, NewOutbound, OutboxJob, SendOutcome};
pub use store::{AfterResolved, ConversationQuery, Decision, KvEntry, Store, StoreError, StoreOptions};
pub use stream::{LoggedEvent, NewParked, ParkedEvent, ParkedOutcome, ParkedState, StartAt, SubscriberStatus};
pub use timestamp::{Clock, Timestamp};
