-- Calls (PROTOCOL §5): one row per call, shared by every hub. The
-- participants (user, connection, hub) are a JSON array kept as TEXT, read
-- and written whole under the optimistic version.

CREATE TABLE calls (
    id           TEXT    NOT NULL PRIMARY KEY,
    room_id      TEXT    NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    sfu_node     TEXT    NOT NULL DEFAULT '',
    started_by   TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    ended_reason TEXT    NOT NULL DEFAULT '',
    ring_until   INTEGER,
    invited      TEXT    NOT NULL DEFAULT '[]',
    participants TEXT    NOT NULL DEFAULT '[]',
    -- Bumped by every update; an update names the version it read.
    version      INTEGER NOT NULL
) STRICT;

-- At most one live call per room, whichever hub starts it: the database,
-- not a check before the insert, is what decides.
CREATE UNIQUE INDEX calls_live_room ON calls (room_id) WHERE state <> 'ended';
CREATE INDEX calls_room ON calls (room_id, started_at);
