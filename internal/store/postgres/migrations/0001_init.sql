-- Every name is unqualified so the schema lands wherever search_path points.
-- JSON columns are json, not jsonb, so stored bytes come back exactly as given.

CREATE TABLE accounts (
    id            text        NOT NULL PRIMARY KEY,
    -- Unique over deleted accounts too, so a username never changes owner.
    username      text        NOT NULL UNIQUE,
    display_name  text        NOT NULL,
    role          text        NOT NULL,
    password_hash text        NOT NULL DEFAULT '',
    created_by    text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    deleted_at    timestamptz
);

CREATE TABLE rooms (
    id         text        NOT NULL PRIMARY KEY,
    name       text        NOT NULL,
    kind       text        NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    last_seq   bigint      NOT NULL DEFAULT 0,
    ai         json,
    direct_key text
);

CREATE UNIQUE INDEX rooms_direct_key ON rooms (direct_key) WHERE direct_key IS NOT NULL;
CREATE INDEX rooms_public ON rooms (created_at, id) WHERE kind = 'public';

CREATE TABLE members (
    -- Grows with every insert: the add order without trusting hub clocks.
    pos      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id  text        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id  text        NOT NULL REFERENCES accounts (id),
    role     text        NOT NULL,
    added_at timestamptz NOT NULL,
    UNIQUE (room_id, user_id)
);

CREATE INDEX members_user ON members (user_id);

CREATE TABLE messages (
    room_id       text        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq           bigint      NOT NULL,
    id            text        NOT NULL UNIQUE,
    from_id       text        NOT NULL REFERENCES accounts (id),
    text          text        NOT NULL,
    client_msg_id text,
    reply_to      bigint,
    created_at    timestamptz NOT NULL,
    edited_at     timestamptz,
    deleted       boolean     NOT NULL DEFAULT false,
    meta          json,
    PRIMARY KEY (room_id, seq)
);

-- The idempotency guard for retried sends, across every hub; the pre-check
-- in AppendMessage is only a shortcut.
CREATE UNIQUE INDEX messages_client_msg_id
    ON messages (room_id, from_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
