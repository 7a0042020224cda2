-- The event log becomes a stream: rows get their position when their
-- transaction commits (under the event_head row), so positions follow commit
-- order and a reader that saw position N never later finds a smaller one.
CREATE TABLE events_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    position        INTEGER UNIQUE,
    workspace       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    person_id       TEXT,
    conversation_id TEXT,
    message_id      TEXT,
    data            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);
INSERT INTO events_new (id, position, workspace, kind, person_id, conversation_id, message_id, data, created_at)
    SELECT position, position, workspace, kind, person_id, conversation_id, message_id, data, created_at FROM events;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_person ON events (person_id, position);
CREATE INDEX events_message ON events (message_id);
CREATE INDEX events_conversation ON events (conversation_id);
CREATE INDEX events_unsealed ON events (id) WHERE position IS NULL;

-- The last position handed out; its row lock orders committing writers.
CREATE TABLE event_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
);
INSERT INTO event_head (id, position) SELECT 1, COALESCE(MAX(position), 0) FROM events;

-- One row per subscriber (CRM instance or outgoing webhook): its durable
-- cursor and the lease of the host delivering to it.
CREATE TABLE subscribers (
    name         TEXT    PRIMARY KEY,
    position     INTEGER NOT NULL,
    lease_holder TEXT,
    leased_until INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);

-- Events a subscriber could not take yet (waiting, retried with backoff) or
-- gave up on (dead). Later events of the same person wait behind them.
CREATE TABLE subscriber_parked (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber      TEXT    NOT NULL,
    position        INTEGER NOT NULL,
    person_key      TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (subscriber, position)
);
CREATE INDEX subscriber_parked_due ON subscriber_parked (subscriber, state, next_attempt_at);
CREATE INDEX subscriber_parked_person ON subscriber_parked (subscriber, person_key, state);

-- What CRM and commerce integrations said about a person, kept for a TTL.
CREATE TABLE integration_profiles (
    connector_id TEXT    NOT NULL,
    person_id    TEXT    NOT NULL,
    data         TEXT,
    fetched_at   INTEGER NOT NULL,
    PRIMARY KEY (connector_id, person_id)
);

-- Integration events already stored, so a repeat from the service is dropped.
CREATE TABLE integration_events (
    connector_id TEXT    NOT NULL,
    external_id  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (connector_id, external_id)
);
