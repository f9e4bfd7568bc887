-- Webhooks (PROTOCOL §7) and their durable outbox. A change that causes an
-- event writes its delivery rows in its own transaction, so an event is
-- queued exactly when the change commits and survives any restart.

CREATE TABLE webhooks (
    id         TEXT    NOT NULL PRIMARY KEY,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    -- NULL: every room.
    room_id    TEXT    REFERENCES rooms (id) ON DELETE CASCADE,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Keyed by type first: the outbox insert of every stored change probes it,
-- and with no webhook for that type the probe is one index lookup.
CREATE TABLE webhook_events (
    event_type TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    PRIMARY KEY (event_type, webhook_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX webhook_events_webhook ON webhook_events (webhook_id);

CREATE TABLE webhook_deliveries (
    -- Rowid alias: the enqueue order, used by the delivery log.
    pos             INTEGER NOT NULL PRIMARY KEY,
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    -- The exact bytes POSTed and signed on every attempt.
    body            BLOB    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    -- A claim: the dispatcher leased_by holds it until lease_until.
    lease_until     INTEGER,
    leased_by       TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    -- A webhook gets each event once.
    UNIQUE (webhook_id, event_id)
) STRICT;

-- What a dispatcher polls: only pending rows, soonest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, pos);

CREATE TABLE webhook_attempts (
    delivery_pos INTEGER NOT NULL REFERENCES webhook_deliveries (pos) ON DELETE CASCADE,
    n            INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    -- NULL: no HTTP response (error says why).
    status_code  INTEGER,
    error        TEXT    NOT NULL DEFAULT '',
    duration_us  INTEGER NOT NULL,
    node         TEXT    NOT NULL,
    PRIMARY KEY (delivery_pos, n)
) STRICT, WITHOUT ROWID;
