package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// selectMessage joins the author without filtering deleted accounts: a
// deleted user's messages keep showing who wrote them.
const selectMessage = `
	SELECT m.id, m.room_id, m.seq, a.id, a.username, a.display_name, a.role,
	       m.text, m.client_msg_id, m.reply_to, m.created_at, m.edited_at, m.deleted, m.meta
	FROM messages m JOIN accounts a ON a.id = m.from_id`

func scanMessage(s scanner) (chat.Message, error) {
	var (
		m        chat.Message
		cmid     sql.NullString
		replyTo  sql.NullInt64
		created  int64
		edited   sql.NullInt64
		deleted  bool
		metaText sql.NullString
	)
	if err := s.Scan(&m.ID, &m.Room, &m.Seq, &m.From.ID, &m.From.Username, &m.From.DisplayName, &m.From.Role,
		&m.Text, &cmid, &replyTo, &created, &edited, &deleted, &metaText); err != nil {
		return chat.Message{}, err
	}
	m.ClientMsgID = cmid.String
	if replyTo.Valid {
		m.ReplyTo = &replyTo.Int64
	}
	m.CreatedAt = fromMicros(created)
	if edited.Valid {
		t := fromMicros(edited.Int64)
		m.EditedAt = &t
	}
	m.Deleted = deleted
	if metaText.Valid {
		m.Meta = json.RawMessage(metaText.String)
	}
	return m, nil
}

// nullMeta stores absent meta, including a JSON null, as SQL NULL so that
// it reads back as absent.
func nullMeta(meta json.RawMessage) sql.NullString {
	if len(meta) == 0 || string(meta) == "null" {
		return sql.NullString{}
	}
	return sql.NullString{String: string(meta), Valid: true}
}

// AppendMessage stores m with the room's next seq. The duplicate check, the
// last_seq bump and the insert share one IMMEDIATE transaction, so no other
// writer can take the same seq or slip a duplicate in between; the unique
// index on client_msg_id still backs that up, and a violation of it is
// answered with the row that won.
func (db *DB) AppendMessage(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	const op = "append message"
	var (
		stored  chat.Message
		created bool
	)
	err := inTx(ctx, db.w, func(tx *sql.Tx) error {
		if m.ClientMsgID != "" {
			orig, err := scanMessage(tx.QueryRowContext(ctx,
				selectMessage+` WHERE m.room_id = ? AND m.from_id = ? AND m.client_msg_id = ?`,
				m.Room, m.From.ID, m.ClientMsgID))
			if err == nil {
				stored = orig
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var seq int64
		err := tx.QueryRowContext(ctx,
			`UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq`, m.Room).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("room %s: %w", m.Room, chat.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var replyTo sql.NullInt64
		if m.ReplyTo != nil {
			replyTo = sql.NullInt64{Int64: *m.ReplyTo, Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO messages (room_id, seq, id, from_id, text, client_msg_id, reply_to, created_at, meta)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.Room, seq, m.ID, m.From.ID, m.Text, nullString(m.ClientMsgID), replyTo,
			stamp(m.CreatedAt), nullMeta(m.Meta)); err != nil {
			return err
		}
		stored, err = scanMessage(tx.QueryRowContext(ctx,
			selectMessage+` WHERE m.room_id = ? AND m.seq = ?`, m.Room, seq))
		if err != nil {
			return err
		}
		created = true
		return enqueue(ctx, tx, chat.EventMessage, m.Room, stored, stored.CreatedAt)
	})
	if err != nil && m.ClientMsgID != "" && isUnique(err) {
		// Another process committed the same send first; its row is the
		// answer. If there is none, the clash was on the message ID.
		orig, err2 := db.messageByClientID(ctx, m.Room, m.From.ID, m.ClientMsgID)
		if err2 == nil {
			return orig, false, nil
		}
	}
	if err != nil {
		return chat.Message{}, false, wrap(op, err)
	}
	return stored, created, nil
}

// messageByClientID returns the message a sender stored under a
// client_msg_id; chat.ErrNotFound if none.
func (db *DB) messageByClientID(ctx context.Context, roomID, fromID, clientMsgID string) (chat.Message, error) {
	m, err := scanMessage(db.r.QueryRowContext(ctx,
		selectMessage+` WHERE m.room_id = ? AND m.from_id = ? AND m.client_msg_id = ?`,
		roomID, fromID, clientMsgID))
	if err != nil {
		return chat.Message{}, wrap("message by client id", err)
	}
	return m, nil
}

// Messages returns one page in ascending seq. Each case asks for Limit+1
// rows in the direction away from its anchor; the extra row only says
// whether more exist. An unknown room has no messages.
func (db *DB) Messages(ctx context.Context, roomID string, q chat.HistoryQuery) ([]chat.Message, bool, error) {
	const op = "messages"
	if q.Limit <= 0 {
		return nil, false, fmt.Errorf("sqlite: %s: limit %d must be > 0", op, q.Limit)
	}
	var (
		where = ` WHERE m.room_id = ?`
		args  = []any{roomID}
		desc  bool
	)
	switch {
	case q.HasAfter() && q.BeforeSeq > 0:
		where += ` AND m.seq > ? AND m.seq < ?`
		args = append(args, q.AfterSeq, q.BeforeSeq)
	case q.HasAfter():
		where += ` AND m.seq > ?`
		args = append(args, q.AfterSeq)
	case q.BeforeSeq > 0:
		where += ` AND m.seq < ?`
		args = append(args, q.BeforeSeq)
		desc = true
	default:
		desc = true
	}
	order := ` ORDER BY m.seq`
	if desc {
		order += ` DESC`
	}
	args = append(args, q.Limit+1)
	rows, err := db.r.QueryContext(ctx, selectMessage+where+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, false, wrap(op, err)
	}
	defer rows.Close()
	out := make([]chat.Message, 0, q.Limit+1)
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, false, wrap(op, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, false, wrap(op, err)
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
	m, err := scanMessage(db.r.QueryRowContext(ctx, selectMessage+` WHERE m.room_id = ? AND m.seq = ?`, roomID, seq))
	if err != nil {
		return chat.Message{}, wrap("message by seq", err)
	}
	return m, nil
}

// MessageByClientID returns the message a sender stored with clientMsgID.
func (db *DB) MessageByClientID(ctx context.Context, roomID, fromID, clientMsgID string) (chat.Message, error) {
	m, err := scanMessage(db.r.QueryRowContext(ctx,
		selectMessage+` WHERE m.room_id = ? AND m.from_id = ? AND m.client_msg_id = ?`, roomID, fromID, clientMsgID))
	if err != nil {
		return chat.Message{}, wrap("message by client id", err)
	}
	return m, nil
}

// EditMessage replaces the text of a live message.
func (db *DB) EditMessage(ctx context.Context, roomID string, seq int64, text string, at time.Time) (chat.Message, error) {
	m, err := db.update(ctx, chat.EventMessageEdited, roomID, seq,
		`UPDATE messages SET text = ?, edited_at = ? WHERE room_id = ? AND seq = ? AND deleted = 0`,
		text, stamp(at), roomID, seq)
	if err != nil {
		return chat.Message{}, wrap("edit message", err)
	}
	return m, nil
}

// DeleteMessage blanks a live message. client_msg_id stays so a retried
// send still finds the original rather than posting it again.
func (db *DB) DeleteMessage(ctx context.Context, roomID string, seq int64, at time.Time) (chat.Message, error) {
	m, err := db.update(ctx, chat.EventMessageDeleted, roomID, seq,
		`UPDATE messages SET text = '', meta = NULL, deleted = 1, edited_at = ? WHERE room_id = ? AND seq = ? AND deleted = 0`,
		stamp(at), roomID, seq)
	if err != nil {
		return chat.Message{}, wrap("delete message", err)
	}
	return m, nil
}

// update runs one UPDATE of message (roomID, seq) and reads the result back
// in the same transaction, so the caller sees exactly what it wrote, and
// queues the webhook event of type typ in it too.
func (db *DB) update(ctx context.Context, typ, roomID string, seq int64, query string, args ...any) (chat.Message, error) {
	var m chat.Message
	err := inTx(ctx, db.w, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("live message %d in room %s: %w", seq, roomID, chat.ErrNotFound)
		}
		m, err = scanMessage(tx.QueryRowContext(ctx, selectMessage+` WHERE m.room_id = ? AND m.seq = ?`, roomID, seq))
		if err != nil {
			return err
		}
		return enqueue(ctx, tx, typ, roomID, m, *m.EditedAt)
	})
	return m, err
}
