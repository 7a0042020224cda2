-- The event log becomes a stream: rows get their position when their
-- transaction commits (under the event_head row lock), so positions follow
-- commit order and a reader that saw position N never later finds a smaller one.
ALTER TABLE events RENAME COLUMN position TO id;
ALTER TABLE events ADD COLUMN position BIGINT UNIQUE;
UPDATE events SET position = id;
DROP INDEX events_person;
CREATE INDEX events_person ON events (person_id, position);
CREATE INDEX events_unsealed ON events (id) WHERE position IS NULL;

-- The last position handed out; its row lock orders committing writers.
CREATE TABLE event_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position BIGINT  NOT NULL
);
INSERT INTO event_head (id, position) SELECT 1, COALESCE(MAX(position), 0) FROM events;

-- One row per subscriber (CRM instance or outgoing webhook): its durable
-- cursor and the lease of the host delivering to it.
CREATE TABLE subscribers (
    name         TEXT    PRIMARY KEY,
    position     BIGINT  NOT NULL,
    lease_holder TEXT,
    leased_until BIGINT  NOT NULL DEFAULT 0,
    updated_at   BIGINT  NOT NULL
);

-- Events a subscriber could not take yet (waiting, retried with backoff) or
-- gave up on (dead). Later events of the same person wait behind them.
CREATE TABLE subscriber_parked (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber      TEXT    NOT NULL,
    position        BIGINT  NOT NULL,
    person_key      TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    UNIQUE (subscriber, position)
);
CREATE INDEX subscriber_parked_due ON subscriber_parked (subscriber, state, next_attempt_at);
CREATE INDEX subscriber_parked_person ON subscriber_parked (subscriber, person_key, state);

-- What CRM and commerce integrations said about a person, kept for a TTL.
CREATE TABLE integration_profiles (
    connector_id TEXT    NOT NULL,
    person_id    TEXT    NOT NULL,
    data         TEXT,
    fetched_at   BIGINT  NOT NULL,
    PRIMARY KEY (connector_id, person_id)
);

-- Integration events already stored, so a repeat from the service is dropped.
CREATE TABLE integration_events (
    connector_id TEXT    NOT NULL,
    external_id  TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (connector_id, external_id)
);
