-- Webhooks (PROTOCOL §7) and their durable outbox. A change that causes an
-- event writes its delivery rows in its own transaction, so an event is
-- queued exactly when the change commits and survives any restart.

CREATE TABLE webhooks (
    id         text        NOT NULL PRIMARY KEY,
    url        text        NOT NULL,
    secret     text        NOT NULL,
    -- NULL: every room.
    room_id    text        REFERENCES rooms (id) ON DELETE CASCADE,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL
);

-- Keyed by type first: every stored change probes it, and with no webhook
-- for that type the probe is one index lookup.
CREATE TABLE webhook_events (
    event_type text NOT NULL,
    webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    PRIMARY KEY (event_type, webhook_id)
);

CREATE INDEX webhook_events_webhook ON webhook_events (webhook_id);

CREATE TABLE webhook_deliveries (
    -- The enqueue order, used by the delivery log.
    pos             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      text        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    -- The exact bytes POSTed and signed on every attempt.
    body            bytea       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    -- A claim: the dispatcher leased_by holds it until lease_until.
    lease_until     timestamptz,
    leased_by       text,
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    -- A webhook gets each event once.
    UNIQUE (webhook_id, event_id)
);

-- What the dispatchers poll: only pending rows, soonest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, pos);

CREATE TABLE webhook_attempts (
    delivery_pos bigint      NOT NULL REFERENCES webhook_deliveries (pos) ON DELETE CASCADE,
    n            integer     NOT NULL,
    at           timestamptz NOT NULL,
    -- NULL: no HTTP response (error says why).
    status_code  integer,
    error        text        NOT NULL DEFAULT '',
    duration_us  bigint      NOT NULL,
    node         text        NOT NULL,
    PRIMARY KEY (delivery_pos, n)
);
