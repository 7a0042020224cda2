//! The event stream: the event log as subscribers read it, their durable
//! cursors, and the events they could not take yet ("parked").
//!
//! Every domain change is appended to the log in the transaction that makes
//! it and gets its position when that transaction commits, so positions
//! follow commit order: a reader that has seen position N will never later
//! find an event below N. Subscribers (CRM integrations, outgoing webhooks)
//! each keep a cursor; an event a subscriber fails on is parked with the
//! person it concerns, and that person's later events wait behind it, so
//! delivery stays in order per person while other persons move on.

use serde::Serialize;

use crate::{ConversationId, MessageId, PersonId, Timestamp};

/// One event of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoggedEvent {
    /// Position in the log: increasing in commit order, never reused.
    pub position: i64,
    /// Workspace.
    pub workspace: String,
    /// What happened, e.g. `message.received`, `person.merged`.
    pub kind: String,
    /// The person it concerns (after any later merge, the survivor).
    pub person_id: Option<PersonId>,
    /// The conversation it concerns.
    pub conversation_id: Option<ConversationId>,
    /// The message it concerns.
    pub message_id: Option<MessageId>,
    /// Details, depending on the kind.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
    /// When it happened.
    pub at: Timestamp,
}

impl LoggedEvent {
    /// The key that orders delivery: events with the same key are delivered
    /// in log order; events without a person are ordered among themselves.
    pub fn person_key(&self) -> String {
        self.person_id.map(|p| p.to_string()).unwrap_or_default()
    }
}

/// Whether a parked event will be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ParkedState {
    /// Retried with backoff; the person's later events wait behind it.
    Waiting,
    /// Given up on (permanent error or attempts exhausted); an operator may retry it.
    Dead,
}

impl ParkedState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ParkedState::Waiting => "waiting",
            ParkedState::Dead => "dead",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "waiting" => Some(ParkedState::Waiting),
            "dead" => Some(ParkedState::Dead),
            _ => None,
        }
    }
}

/// An event a subscriber has not taken yet, or gave up on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParkedEvent {
    /// Row id; retry a dead one with it.
    pub id: i64,
    /// The subscriber.
    pub subscriber: String,
    /// The event's position in the log.
    pub position: i64,
    /// The person the event concerns (empty when none).
    pub person_key: String,
    /// Waiting or dead.
    pub state: ParkedState,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When it is tried next (waiting only).
    pub next_attempt_at: Timestamp,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was parked.
    pub created_at: Timestamp,
}

/// An event to park because a subscriber failed on it or its person waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewParked {
    /// Position in the log.
    pub position: i64,
    /// The person key.
    pub person_key: String,
    /// Attempts made so far (0 when parked behind an earlier event).
    pub attempts: u32,
    /// When to try it.
    pub next_attempt_at: Timestamp,
    /// Why, when an attempt failed.
    pub error: Option<String>,
    /// Waiting for a retry, or dead at once (a permanent error).
    pub state: ParkedState,
}

/// What became of retrying a parked event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkedOutcome {
    /// Delivered: the row goes away.
    Delivered,
    /// Failed again; try at `at`.
    Retry {
        /// Why.
        error: String,
        /// When.
        at: Timestamp,
    },
    /// Give up: the row becomes a dead letter and the person's next event may go.
    Dead {
        /// Why.
        error: String,
    },
}

/// A subscriber's progress, for the API and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubscriberStatus {
    /// Name (the connector instance id).
    pub name: String,
    /// Position of the last event it has taken or parked.
    pub position: i64,
    /// Events after the cursor not yet looked at.
    pub lag: i64,
    /// Events waiting for a retry.
    pub waiting: i64,
    /// Dead letters.
    pub dead: i64,
}

/// Where a new subscriber starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// From the first event of the log (a CRM backfills everything).
    Beginning,
    /// From events after the subscriber was created.
    Now,
}
