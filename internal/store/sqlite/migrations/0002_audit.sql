-- The audit log (PROTOCOL §7). id is the entry's order: AUTOINCREMENT, so
-- an id is never handed out twice even if the newest rows are ever pruned.
-- actor_id has no foreign key on purpose: an entry must be kept whatever
-- becomes of the account, and it must never be refused because of it.
CREATE TABLE audit_log (
    id       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor_id TEXT,
    action   TEXT    NOT NULL,
    target   TEXT    NOT NULL DEFAULT '',
    ip       TEXT    NOT NULL DEFAULT '',
    detail   TEXT    NOT NULL DEFAULT '{}'
) STRICT;
