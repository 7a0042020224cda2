-- Omni schema, PostgreSQL dialect. migrations/sqlite holds the same schema for
-- SQLite; the two must stay equivalent (the store runs the same queries).
-- Times are milliseconds since the Unix epoch; flags are 0/1 integers.

-- A person is a connected component of trusted links between identities.
CREATE TABLE persons (
    id           TEXT    PRIMARY KEY,
    workspace    TEXT    NOT NULL,
    display_name TEXT,
    merged_into  TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX persons_merged_into ON persons (merged_into);

-- Normalised identifiers. person_id is NULL for identifiers known only from
-- unproven claims: they belong to nobody until a trusted link reaches them.
CREATE TABLE identities (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    person_id   TEXT    REFERENCES persons(id),
    verified    BIGINT  NOT NULL DEFAULT 0,
    verified_by TEXT,
    is_address  BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    UNIQUE (workspace, kind, value)
);
CREATE INDEX identities_person ON identities (person_id);

-- Evidence that two identities are one person, with provenance. Removing a
-- link sets removed_at; the row stays as history.
CREATE TABLE links (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace      TEXT    NOT NULL,
    from_identity  BIGINT  NOT NULL REFERENCES identities(id),
    to_identity    BIGINT  NOT NULL REFERENCES identities(id),
    trusted        BIGINT  NOT NULL,
    source_kind    TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    removed_at     BIGINT,
    removed_by     TEXT,
    removed_reason TEXT
);
CREATE INDEX links_from ON links (from_identity);
CREATE INDEX links_to ON links (to_identity);

CREATE TABLE suggestions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace       TEXT    NOT NULL,
    person_id       TEXT    NOT NULL,
    other_person_id TEXT    NOT NULL,
    identity_id     BIGINT  REFERENCES identities(id),
    reason          TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    decided_at      BIGINT,
    decided_by      TEXT
);
CREATE INDEX suggestions_person ON suggestions (person_id, status);
CREATE INDEX suggestions_other ON suggestions (other_person_id, status);

CREATE TABLE audit_log (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace       TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    person_id       TEXT,
    other_person_id TEXT,
    detail          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX audit_person ON audit_log (person_id);

CREATE TABLE conversations (
    id                 TEXT    PRIMARY KEY,
    workspace          TEXT    NOT NULL,
    person_id          TEXT    NOT NULL REFERENCES persons(id),
    status             TEXT    NOT NULL,
    channel            TEXT    NOT NULL,
    connector_id       TEXT    NOT NULL,
    first_channel      TEXT    NOT NULL,
    first_connector_id TEXT    NOT NULL,
    assignee           TEXT,
    tags               TEXT    NOT NULL DEFAULT '[]',
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    last_message_at    BIGINT  NOT NULL,
    first_inbound_at   BIGINT,
    first_response_at  BIGINT,
    resolved_at        BIGINT,
    reopen_count       BIGINT  NOT NULL DEFAULT 0,
    outbound_count     BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX conversations_person ON conversations (person_id, last_message_at);
CREATE INDEX conversations_recent ON conversations (updated_at, id);
CREATE INDEX conversations_started ON conversations (created_at);
CREATE INDEX conversations_resolved ON conversations (resolved_at);

-- A channel's thread ids, so a reply in a thread continues its conversation.
CREATE TABLE conversation_threads (
    connector_id    TEXT NOT NULL,
    thread_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    PRIMARY KEY (connector_id, thread_id)
);

CREATE TABLE messages (
    id              TEXT    PRIMARY KEY,
    conversation_id TEXT    NOT NULL REFERENCES conversations(id),
    person_id       TEXT    NOT NULL REFERENCES persons(id),
    connector_id    TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    direction       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    -- Sender of an inbound message, recipient of an outbound one.
    identity_id     BIGINT  NOT NULL REFERENCES identities(id),
    text            TEXT    NOT NULL,
    attachments     TEXT    NOT NULL DEFAULT '[]',
    metadata        TEXT    NOT NULL DEFAULT '{}',
    external_id     TEXT,
    thread_id       TEXT,
    reply_to        TEXT,
    status          TEXT    NOT NULL,
    error           TEXT,
    sent_at         BIGINT,
    created_at      BIGINT  NOT NULL,
    status_at       BIGINT  NOT NULL
);
-- A provider's retry of the same webhook never stores a second message.
CREATE UNIQUE INDEX messages_external ON messages (connector_id, direction, external_id);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at);
CREATE INDEX messages_person ON messages (person_id);
CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX messages_external_lookup ON messages (external_id);

CREATE TABLE csat (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector_id    TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    person_id       TEXT    NOT NULL REFERENCES persons(id),
    identity_id     BIGINT  NOT NULL REFERENCES identities(id),
    conversation_id TEXT    REFERENCES conversations(id),
    score           BIGINT  NOT NULL,
    scale           BIGINT  NOT NULL,
    comment         TEXT,
    created_at      BIGINT  NOT NULL,
    UNIQUE (connector_id, external_id)
);
CREATE INDEX csat_created ON csat (created_at);

-- Outbound messages waiting to be sent, oldest first per conversation.
CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      TEXT    NOT NULL UNIQUE REFERENCES messages(id),
    conversation_id TEXT    NOT NULL,
    connector_id    TEXT    NOT NULL,
    recipient_kind  TEXT    NOT NULL,
    recipient_value TEXT    NOT NULL,
    state           TEXT    NOT NULL, -- pending | dead
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    dead_at         BIGINT,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_conversation ON outbox (conversation_id, state, id);

-- Receipts that arrived before the send that they refer to was recorded
-- (a provider's callback can beat the API response); applied when it is.
CREATE TABLE early_receipts (
    connector_id TEXT    NOT NULL,
    external_id  TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    error        TEXT,
    at           BIGINT  NOT NULL,
    received_at  BIGINT  NOT NULL,
    PRIMARY KEY (connector_id, external_id, status)
);
CREATE INDEX early_receipts_age ON early_receipts (received_at);

-- Each connector instance's private key-value store.
CREATE TABLE kv (
    connector_id TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    value        BYTEA   NOT NULL,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (connector_id, key)
);

-- Every domain change, in order: the timeline and the feed for subscribers.
CREATE TABLE events (
    position        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    person_id       TEXT,
    conversation_id TEXT,
    message_id      TEXT,
    data            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX events_person ON events (person_id, position);
CREATE INDEX events_message ON events (message_id);
CREATE INDEX events_conversation ON events (conversation_id);
