package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/outbox"
)

const roomCols = `r.id, r.name, r.kind, r.created_by, r.created_at, r.last_seq, r.ai`

// scanRoom reads roomCols, then any extra columns a query adds after them.
func scanRoom(s scanner, extra ...any) (chat.Room, error) {
	var r chat.Room
	var created int64
	var ai sql.NullString
	dest := append([]any{&r.ID, &r.Name, &r.Kind, &r.CreatedBy, &created, &r.LastSeq, &ai}, extra...)
	if err := s.Scan(dest...); err != nil {
		return chat.Room{}, err
	}
	r.CreatedAt = fromMicros(created)
	if ai.Valid {
		r.AI = new(chat.AIConfig)
		if err := json.Unmarshal([]byte(ai.String), r.AI); err != nil {
			return chat.Room{}, fmt.Errorf("room %s: ai config: %w", r.ID, err)
		}
	}
	return r, nil
}

// CreateRoom inserts the room and its members in one transaction, so a
// room is never visible without its owner. An empty owner adds none.
// Members that repeat the owner or each other are added once.
func (db *DB) CreateRoom(ctx context.Context, r chat.Room, owner string, members []string, directKey string) error {
	var ai sql.NullString
	if r.AI != nil {
		b, err := json.Marshal(r.AI)
		if err != nil {
			return fmt.Errorf("sqlite: create room: ai config: %w", err)
		}
		ai = sql.NullString{String: string(b), Valid: true}
	}
	created := stamp(r.CreatedAt)
	err := inTx(ctx, db.w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO rooms (id, name, kind, created_by, created_at, last_seq, ai, direct_key)
			VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
			r.ID, r.Name, string(r.Kind), r.CreatedBy, created, ai, nullString(directKey)); err != nil {
			return err
		}
		seen := make(map[string]bool, len(members)+1)
		add := func(user string, role chat.MemberRole) error {
			if user == "" || seen[user] {
				return nil
			}
			seen[user] = true
			res, err := tx.ExecContext(ctx, `
				INSERT INTO members (room_id, user_id, role, added_at)
				SELECT ?, id, ?, ? FROM accounts WHERE id = ? AND deleted_at IS NULL`,
				r.ID, string(role), created, user)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err == nil && n == 0 {
				err = fmt.Errorf("user %s: %w", user, chat.ErrNotFound)
			}
			return err
		}
		if err := add(owner, chat.MemberOwner); err != nil {
			return err
		}
		for _, m := range members {
			if err := add(m, chat.MemberMember); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("create room", err)
}

// DirectRoom returns the direct room keyed by directKey.
func (db *DB) DirectRoom(ctx context.Context, directKey string) (chat.Room, error) {
	r, err := scanRoom(db.r.QueryRowContext(ctx, `SELECT `+roomCols+` FROM rooms r WHERE r.direct_key = ?`, directKey))
	if err != nil {
		return chat.Room{}, wrap("direct room", err)
	}
	return r, nil
}

// Room returns a room by ID.
func (db *DB) Room(ctx context.Context, id string) (chat.Room, error) {
	r, err := scanRoom(db.r.QueryRowContext(ctx, `SELECT `+roomCols+` FROM rooms r WHERE r.id = ?`, id))
	if err != nil {
		return chat.Room{}, wrap("room", err)
	}
	return r, nil
}

// RoomsFor lists public rooms and userID's rooms, oldest first; rooms
// created in the same microsecond fall back to ID order, which is also
// creation order for chat.NewID IDs.
func (db *DB) RoomsFor(ctx context.Context, userID string) ([]chat.Room, error) {
	rows, err := db.r.QueryContext(ctx, `
		SELECT `+roomCols+` FROM rooms r
		WHERE r.kind = 'public'
		   OR EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = ?)
		ORDER BY r.created_at, r.id`, userID)
	if err != nil {
		return nil, wrap("rooms for", err)
	}
	defer rows.Close()
	out := []chat.Room{}
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, wrap("rooms for", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("rooms for", err)
	}
	return out, nil
}

// Members lists live members, owner first, then in the order added. An
// unknown room has no members.
func (db *DB) Members(ctx context.Context, roomID string) ([]chat.Member, error) {
	rows, err := db.r.QueryContext(ctx, `
		SELECT a.id, a.username, a.display_name, a.role, m.role
		FROM members m JOIN accounts a ON a.id = m.user_id
		WHERE m.room_id = ? AND a.deleted_at IS NULL
		ORDER BY CASE m.role WHEN 'owner' THEN 0 ELSE 1 END, m.pos`, roomID)
	if err != nil {
		return nil, wrap("members", err)
	}
	defer rows.Close()
	out := []chat.Member{}
	for rows.Next() {
		var m chat.Member
		if err := rows.Scan(&m.User.ID, &m.User.Username, &m.User.DisplayName, &m.User.Role, &m.Role); err != nil {
			return nil, wrap("members", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("members", err)
	}
	return out, nil
}

// MemberRole returns userID's role in the room. A deleted account is no
// longer a member, matching Members.
func (db *DB) MemberRole(ctx context.Context, roomID, userID string) (chat.MemberRole, error) {
	var role chat.MemberRole
	err := db.r.QueryRowContext(ctx, `
		SELECT m.role FROM members m JOIN accounts a ON a.id = m.user_id
		WHERE m.room_id = ? AND m.user_id = ? AND a.deleted_at IS NULL`, roomID, userID).Scan(&role)
	if err != nil {
		return "", wrap("member role", err)
	}
	return role, nil
}

// AddMember is one INSERT … SELECT: it inserts nothing unless both the room
// and the live account exist, so no check can go stale before the insert.
// The member_added webhook event is queued in the same transaction.
func (db *DB) AddMember(ctx context.Context, roomID, userID string, role chat.MemberRole) error {
	err := inTx(ctx, db.w, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO members (room_id, user_id, role, added_at)
			SELECT r.id, a.id, ?, ? FROM rooms r, accounts a
			WHERE r.id = ? AND a.id = ? AND a.deleted_at IS NULL`,
			string(role), micros(chat.Now()), roomID, userID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("room %s or user %s: %w", roomID, userID, chat.ErrNotFound)
		}
		return enqueueMember(ctx, tx, chat.EventMemberAdded, roomID, userID, role)
	})
	return wrap("add member", err)
}

// RemoveMember deletes the membership row and queues the member_removed
// webhook event, with the role the member had, in the same transaction.
func (db *DB) RemoveMember(ctx context.Context, roomID, userID string) error {
	err := inTx(ctx, db.w, func(tx *sql.Tx) error {
		var role chat.MemberRole
		err := tx.QueryRowContext(ctx, `DELETE FROM members WHERE room_id = ? AND user_id = ? RETURNING role`,
			roomID, userID).Scan(&role)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("member %s of room %s: %w", userID, roomID, chat.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return enqueueMember(ctx, tx, chat.EventMemberRemoved, roomID, userID, role)
	})
	return wrap("remove member", err)
}

// enqueueMember queues a member event naming the user as an account shows
// them now (deleted accounts too: their row stays).
func enqueueMember(ctx context.Context, tx *sql.Tx, typ, roomID, userID string, role chat.MemberRole) error {
	var u chat.User
	if err := tx.QueryRowContext(ctx, `SELECT id, username, display_name, role FROM accounts WHERE id = ?`, userID).
		Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role); err != nil {
		return err
	}
	return enqueue(ctx, tx, typ, roomID, outbox.Member{User: u, Role: role}, chat.Now())
}

// lastSeqsChunk keeps each IN list well under SQLite's bound-variable limit.
const lastSeqsChunk = 500

// LastSeqs returns last_seq for the rooms among roomIDs that exist.
func (db *DB) LastSeqs(ctx context.Context, roomIDs []string) (map[string]int64, error) {
	out := make(map[string]int64, len(roomIDs))
	for len(roomIDs) > 0 {
		chunk := roomIDs[:min(len(roomIDs), lastSeqsChunk)]
		roomIDs = roomIDs[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := `SELECT id, last_seq FROM rooms WHERE id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		if err := func() error {
			rows, err := db.r.QueryContext(ctx, q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				var seq int64
				if err := rows.Scan(&id, &seq); err != nil {
					return err
				}
				out[id] = seq
			}
			return rows.Err()
		}(); err != nil {
			return nil, wrap("last seqs", err)
		}
	}
	return out, nil
}
