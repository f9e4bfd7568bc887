package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pawfect/hub/internal/chat"
)

// messageCols reads a message aliased m joined to its author aliased a. The
// join does not filter deleted accounts: a deleted user's messages keep
// showing who wrote them.
const messageCols = `m.id, m.room_id, m.seq, a.id, a.username, a.display_name, a.role,
	m.text, m.client_msg_id, m.reply_to, m.created_at, m.edited_at, m.deleted, m.meta`

const selectMessage = `SELECT ` + messageCols + ` FROM messages m JOIN accounts a ON a.id = m.from_id`

// scanMessage reads messageCols and then, into extra, any columns after
// them.
func scanMessage(row pgx.Row, extra ...any) (chat.Message, error) {
	var (
		m    chat.Message
		cmid *string
		meta []byte
	)
	dest := []any{&m.ID, &m.Room, &m.Seq, &m.From.ID, &m.From.Username, &m.From.DisplayName, &m.From.Role,
		&m.Text, &cmid, &m.ReplyTo, &m.CreatedAt, &m.EditedAt, &m.Deleted, &meta}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return chat.Message{}, err
	}
	if cmid != nil {
		m.ClientMsgID = *cmid
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if m.EditedAt != nil {
		t := m.EditedAt.UTC()
		m.EditedAt = &t
	}
	if meta != nil {
		m.Meta = json.RawMessage(meta)
	}
	return m, nil
}

// nullMeta stores absent meta, including a JSON null, as SQL NULL so that
// it reads back as absent.
func nullMeta(meta json.RawMessage) []byte {
	if len(meta) == 0 || string(meta) == "null" {
		return nil
	}
	return meta
}

// appendMessage bumps last_seq and inserts with it in one statement, so the
// row lock the UPDATE takes on the room is held from the seq's allocation
// to commit and no other append to the room can take the same seq. No row
// back means the room does not exist. The last column (hooksFor, spelled
// out for a constant) says whether any webhook receives the message, so
// the common case, none, costs no extra round trip.
const appendMessage = `
	WITH r AS (
		UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1::text RETURNING last_seq
	), m AS (
		INSERT INTO messages (room_id, seq, id, from_id, text, client_msg_id, reply_to, created_at, meta)
		SELECT $1::text, r.last_seq, $2::text, $3::text, $4::text, $5::text, $6::bigint, $7::timestamptz, $8::json
		FROM r
		RETURNING *
	)
	SELECT ` + messageCols + `, EXISTS (
		SELECT 1 FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
		WHERE e.event_type = 'message' AND (w.room_id IS NULL OR w.room_id = $1::text)
	)
	FROM m JOIN accounts a ON a.id = m.from_id`

// AppendMessage stores m with the room's next seq in one transaction. A
// retried send is normally answered by the pre-check; one racing its
// original on another connection hits the unique index instead, and then
// the row that won is the answer.
func (db *DB) AppendMessage(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	const op = "append message"
	var (
		stored  chat.Message
		created bool
	)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if m.ClientMsgID != "" {
			orig, err := scanMessage(tx.QueryRow(ctx,
				selectMessage+` WHERE m.room_id = $1 AND m.from_id = $2 AND m.client_msg_id = $3`,
				m.Room, m.From.ID, m.ClientMsgID))
			if err == nil {
				stored = orig
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		var hooks bool
		got, err := scanMessage(tx.QueryRow(ctx, appendMessage,
			m.Room, m.ID, m.From.ID, m.Text, nullString(m.ClientMsgID), m.ReplyTo,
			stamp(m.CreatedAt), nullMeta(m.Meta)), &hooks)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("room %s: %w", m.Room, chat.ErrNotFound)
		}
		if err != nil {
			return err
		}
		stored, created = got, true
		if !hooks {
			return nil
		}
		return enqueue(ctx, tx, chat.EventMessage, m.Room, got, got.CreatedAt)
	})
	if err != nil && m.ClientMsgID != "" && isUnique(err) {
		// The failed transaction is rolled back, seq bump included, so
		// the original is read outside it. If there is none, the clash
		// was on the message ID and is reported as a conflict.
		orig, err2 := scanMessage(db.pool.QueryRow(ctx,
			selectMessage+` WHERE m.room_id = $1 AND m.from_id = $2 AND m.client_msg_id = $3`,
			m.Room, m.From.ID, m.ClientMsgID))
		if err2 == nil {
			return orig, false, nil
		}
	}
	if err != nil {
		return chat.Message{}, false, wrap(op, err)
	}
	return stored, created, nil
}

// Messages returns one page in ascending seq. Each case asks for Limit+1
// rows in the direction away from its anchor; the extra row only says
// whether more exist. An unknown room has no messages.
func (db *DB) Messages(ctx context.Context, roomID string, q chat.HistoryQuery) ([]chat.Message, bool, error) {
	const op = "messages"
	if q.Limit <= 0 {
		return nil, false, fmt.Errorf("postgres: %s: limit %d must be > 0", op, q.Limit)
	}
	args := []any{roomID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := ` WHERE m.room_id = $1`
	desc := false
	switch {
	case q.HasAfter() && q.BeforeSeq > 0:
		where += ` AND m.seq > ` + arg(q.AfterSeq) + ` AND m.seq < ` + arg(q.BeforeSeq)
	case q.HasAfter():
		where += ` AND m.seq > ` + arg(q.AfterSeq)
	case q.BeforeSeq > 0:
		where += ` AND m.seq < ` + arg(q.BeforeSeq)
		desc = true
	default:
		desc = true
	}
	order := ` ORDER BY m.seq`
	if desc {
		order += ` DESC`
	}
	limit := ` LIMIT ` + arg(q.Limit+1)
	rows, err := db.pool.Query(ctx, selectMessage+where+order+limit, args...)
	if err != nil {
		return nil, false, wrap(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chat.Message, error) { return scanMessage(row) })
	if err != nil {
		return nil, false, wrap(op, err)
	}
	if out == nil {
		out = []chat.Message{}
	}
	more := len(out) > q.Limit
	if more {
		out = out[:q.Limit]
	}
	if desc {
		slices.Reverse(out)
	}
	return out, more, nil
}

// MessageBySeq returns one message, deleted or not.
func (db *DB) MessageBySeq(ctx context.Context, roomID string, seq int64) (chat.Message, error) {
	m, err := scanMessage(db.pool.QueryRow(ctx, selectMessage+` WHERE m.room_id = $1 AND m.seq = $2`, roomID, seq))
	if err != nil {
		return chat.Message{}, wrap("message by seq", err)
	}
	return m, nil
}

// MessageByClientID returns the message a sender stored with clientMsgID.
func (db *DB) MessageByClientID(ctx context.Context, roomID, fromID, clientMsgID string) (chat.Message, error) {
	m, err := scanMessage(db.pool.QueryRow(ctx,
		selectMessage+` WHERE m.room_id = $1 AND m.from_id = $2 AND m.client_msg_id = $3`, roomID, fromID, clientMsgID))
	if err != nil {
		return chat.Message{}, wrap("message by client id", err)
	}
	return m, nil
}

// EditMessage replaces the text of a live message.
func (db *DB) EditMessage(ctx context.Context, roomID string, seq int64, text string, at time.Time) (chat.Message, error) {
	m, err := db.update(ctx, chat.EventMessageEdited, roomID, seq, `text = $3, edited_at = $4`, text, stamp(at))
	if err != nil {
		return chat.Message{}, wrap("edit message", err)
	}
	return m, nil
}

// DeleteMessage blanks a live message. client_msg_id stays so a retried
// send still finds the original rather than posting it again.
func (db *DB) DeleteMessage(ctx context.Context, roomID string, seq int64, at time.Time) (chat.Message, error) {
	m, err := db.update(ctx, chat.EventMessageDeleted, roomID, seq, `text = '', meta = NULL, deleted = true, edited_at = $3`, stamp(at))
	if err != nil {
		return chat.Message{}, wrap("delete message", err)
	}
	return m, nil
}

// update applies set ($1 and $2 are the room and seq) to a live message
// and returns the row as written, author joined, in one statement; the
// webhook event of type typ is queued in the same transaction.
func (db *DB) update(ctx context.Context, typ, roomID string, seq int64, set string, args ...any) (chat.Message, error) {
	var m chat.Message
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var (
			hooks bool
			err   error
		)
		m, err = scanMessage(tx.QueryRow(ctx, `
			WITH m AS (
				UPDATE messages SET `+set+`
				WHERE room_id = $1 AND seq = $2 AND NOT deleted
				RETURNING *
			)
			SELECT `+messageCols+`, `+hooksFor(typ, "$1::text")+`
			FROM m JOIN accounts a ON a.id = m.from_id`,
			append([]any{roomID, seq}, args...)...), &hooks)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("live message %d in room %s: %w", seq, roomID, chat.ErrNotFound)
		}
		if err != nil || !hooks {
			return err
		}
		return enqueue(ctx, tx, typ, roomID, m, *m.EditedAt)
	})
	return m, err
}
