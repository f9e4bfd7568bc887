// Package store is the home of the hub's durable stores. It holds no code of
// its own: each backend is a subpackage with the same method set.
//
//   - sqlite: the embedded default, a pure-Go SQLite file in HUB_DATA_DIR (WAL).
//   - postgres: the production store, PostgreSQL through a pgx pool.
//   - storetest: the one suite of contract tests both backends must pass.
//
// Both backends apply versioned SQL migrations (embed.FS) at Open. The
// consumers (rooms, auth, …) declare the narrow interfaces they need; the
// server package asserts at compile time that both backends satisfy them.
//
// The contract every backend keeps:
//   - AppendMessage assigns seq = room.last_seq + 1 in the same transaction
//     that inserts the message, so seq is gapless per room whatever the number
//     of hubs writing; its commit is the acknowledgement of a send.
//   - (room, sender, client_msg_id) is unique in the database; a repeated
//     append returns the original message and created=false.
//   - AppendAudit assigns each audit entry an ID (its integer key as a
//     decimal string) that orders the log exactly: an entry appended after
//     another returned sorts as newer, on every hub, so paging with before
//     never skips or repeats one.
//   - AppendMessage (new messages only), EditMessage, DeleteMessage,
//     AddMember and RemoveMember write the webhook deliveries of the event
//     they cause in their own transaction (the outbox of
//     storetest.WebhookStore), so an event is queued exactly when its
//     change commits; with no matching webhook this costs one index probe.
//   - Not-found and duplicate conditions are reported as chat.ErrNotFound and
//     chat.ErrConflict (wrapped); a backend that cannot be reached as
//     chat.ErrUnavailable (wrapped), so callers can answer "unavailable".
package store
