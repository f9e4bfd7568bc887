-- The audit log (PROTOCOL §7). id is the entry's order; AppendAudit takes a
-- table lock while inserting so that ids also commit in order (see
-- audit.go). actor_id has no foreign key on purpose: an entry must be kept
-- whatever becomes of the account, and it must never be refused because
-- of it. detail is json, not jsonb, so it reads back byte for byte.
CREATE TABLE audit_log (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at       timestamptz NOT NULL,
    actor_id text,
    action   text        NOT NULL,
    target   text        NOT NULL DEFAULT '',
    ip       text        NOT NULL DEFAULT '',
    detail   json        NOT NULL
);
