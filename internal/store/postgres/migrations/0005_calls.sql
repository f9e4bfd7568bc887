-- Calls (PROTOCOL §5): one row per call, shared by every hub. The
-- participants (user, connection, hub) are a JSON array kept as text, read
-- and written whole under the optimistic version.

CREATE TABLE calls (
    id           text        NOT NULL PRIMARY KEY,
    room_id      text        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    kind         text        NOT NULL,
    state        text        NOT NULL,
    sfu_node     text        NOT NULL DEFAULT '',
    started_by   text        NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    ended_reason text        NOT NULL DEFAULT '',
    ring_until   timestamptz,
    invited      text        NOT NULL DEFAULT '[]',
    participants text        NOT NULL DEFAULT '[]',
    -- Bumped by every update; an update names the version it read.
    version      bigint      NOT NULL
);

-- At most one live call per room, whichever hub starts it: the database,
-- not a check before the insert, is what decides.
CREATE UNIQUE INDEX calls_live_room ON calls (room_id) WHERE state <> 'ended';
CREATE INDEX calls_room ON calls (room_id, started_at);
