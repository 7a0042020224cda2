-- Persons are the people the business talks to; identities resolve to them.
CREATE TABLE persons (
    id           TEXT PRIMARY KEY,
    display_name TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Trusted identifiers: a channel address or a verified identifier. Each
-- normalised identifier belongs to exactly one person.
CREATE TABLE identities (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id  TEXT    NOT NULL REFERENCES persons(id),
    kind       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    verified   INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (kind, value)
);
CREATE INDEX identities_person ON identities (person_id);

-- Identifiers a person stated without proof; shown, never used to link.
CREATE TABLE identity_claims (
    person_id  TEXT    NOT NULL REFERENCES persons(id),
    kind       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (person_id, kind, value)
);

CREATE TABLE conversations (
    id              TEXT    PRIMARY KEY,
    person_id       TEXT    NOT NULL REFERENCES persons(id),
    status          TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    connector_id    TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_message_at INTEGER NOT NULL
);
CREATE INDEX conversations_person ON conversations (person_id, last_message_at);
CREATE INDEX conversations_recent ON conversations (updated_at, id);

CREATE TABLE messages (
    id              TEXT    PRIMARY KEY,
    conversation_id TEXT    NOT NULL REFERENCES conversations(id),
    person_id       TEXT    NOT NULL REFERENCES persons(id),
    connector_id    TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    direction       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    -- Sender of an inbound message, recipient of an outbound one.
    identity_id     INTEGER REFERENCES identities(id),
    text            TEXT    NOT NULL,
    attachments     TEXT    NOT NULL DEFAULT '[]',
    metadata        TEXT    NOT NULL DEFAULT '{}',
    external_id     TEXT,
    thread_id       TEXT,
    reply_to        TEXT,
    status          TEXT    NOT NULL,
    error           TEXT,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL,
    status_at       INTEGER NOT NULL
);
-- A provider's retry of the same webhook never stores a second message.
CREATE UNIQUE INDEX messages_external ON messages (connector_id, direction, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, created_at);

-- Outbound messages waiting to be sent, oldest first per conversation.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT    NOT NULL UNIQUE REFERENCES messages(id),
    conversation_id TEXT    NOT NULL,
    connector_id    TEXT    NOT NULL,
    recipient_kind  TEXT    NOT NULL,
    recipient_value TEXT    NOT NULL,
    state           TEXT    NOT NULL, -- pending | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_conversation ON outbox (conversation_id, state, id);

-- Each connector instance's private key-value store.
CREATE TABLE kv (
    connector_id TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    value        BLOB    NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (connector_id, key)
) WITHOUT ROWID;
