//! Omni's core: the domain model, identity resolution and the conversation
//! store.
//!
//! Everything here is independent of WebAssembly and HTTP. The host turns
//! plugin output into [`IngestBatch`]es of normalised [`InboundEvent`]s and
//! hands them to a [`Store`], which resolves each sender to a [`Person`]
//! through their [`IdentityKey`]s, files messages into [`Conversation`]s and
//! keeps the outbox of replies to send. [`store::sqlite`] is the embedded
//! backend.

mod event;
mod identity;
mod ids;
mod kv;
mod model;
mod outbox;
pub mod store;
mod timestamp;

pub use event::{
    CallEvent, DeliveryUpdate, IdentityClaim, InboundEvent, InboundMessage, IngestBatch, IngestReport, ProfileUpdate,
};
pub use identity::{Email, IdentityError, IdentityKey, IdentityKind, PhoneE164};
pub use ids::{ConnectorId, ConversationId, InvalidConnectorId, MessageId, PersonId};
pub use kv::KvChanges;
pub use model::{
    Attachment, Conversation, ConversationDetail, ConversationStatus, Direction, IdentityClaimRecord, Message,
    MessageKind, MessageStatus, Page, Person, PersonIdentity,
};
pub use outbox::{NewOutbound, OutboxJob, SendOutcome};
pub use store::{ConversationQuery, KvEntry, Store, StoreError, StoreOptions};
pub use timestamp::Timestamp;
