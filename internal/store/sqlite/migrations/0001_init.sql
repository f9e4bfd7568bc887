-- Times are INTEGER unix microseconds (UTC): exact, sortable and the same
-- precision as chat.Now(). JSON columns are TEXT holding the bytes as given.

CREATE TABLE accounts (
    id            TEXT    NOT NULL PRIMARY KEY,
    -- Unique over deleted accounts too, so a username never changes owner.
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    deleted_at    INTEGER
) STRICT;

CREATE TABLE rooms (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    ai         TEXT,
    direct_key TEXT
) STRICT;

CREATE UNIQUE INDEX rooms_direct_key ON rooms (direct_key) WHERE direct_key IS NOT NULL;
CREATE INDEX rooms_public ON rooms (created_at, id) WHERE kind = 'public';

CREATE TABLE members (
    -- Rowid alias: it grows with every insert, so it is the add order
    -- without trusting clocks.
    pos      INTEGER NOT NULL PRIMARY KEY,
    room_id  TEXT    NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id  TEXT    NOT NULL REFERENCES accounts (id),
    role     TEXT    NOT NULL,
    added_at INTEGER NOT NULL,
    UNIQUE (room_id, user_id)
) STRICT;

CREATE INDEX members_user ON members (user_id);

CREATE TABLE messages (
    room_id       TEXT    NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    id            TEXT    NOT NULL UNIQUE,
    from_id       TEXT    NOT NULL REFERENCES accounts (id),
    text          TEXT    NOT NULL,
    client_msg_id TEXT,
    reply_to      INTEGER,
    created_at    INTEGER NOT NULL,
    edited_at     INTEGER,
    deleted       INTEGER NOT NULL DEFAULT 0,
    meta          TEXT,
    PRIMARY KEY (room_id, seq)
) STRICT, WITHOUT ROWID;

-- The idempotency guard for retried sends; the pre-check in AppendMessage
-- is only a shortcut.
CREATE UNIQUE INDEX messages_client_msg_id
    ON messages (room_id, from_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
