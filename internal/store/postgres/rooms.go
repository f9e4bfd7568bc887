package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/outbox"
)

const roomCols = `r.id, r.name, r.kind, r.created_by, r.created_at, r.last_seq, r.ai`

// scanRoom reads roomCols, then any extra columns a query adds after them.
func scanRoom(row pgx.Row, extra ...any) (chat.Room, error) {
	var r chat.Room
	var ai []byte
	dest := append([]any{&r.ID, &r.Name, &r.Kind, &r.CreatedBy, &r.CreatedAt, &r.LastSeq, &ai}, extra...)
	if err := row.Scan(dest...); err != nil {
		return chat.Room{}, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	if ai != nil {
		r.AI = new(chat.AIConfig)
		if err := json.Unmarshal(ai, r.AI); err != nil {
			return chat.Room{}, fmt.Errorf("room %s: ai config: %w", r.ID, err)
		}
	}
	return r, nil
}

// CreateRoom inserts the room and its members in one transaction, so a
// room is never visible without its owner. An empty owner adds none.
// Members that repeat the owner or each other are added once.
func (db *DB) CreateRoom(ctx context.Context, r chat.Room, owner string, members []string, directKey string) error {
	var ai []byte
	if r.AI != nil {
		b, err := json.Marshal(r.AI)
		if err != nil {
			return fmt.Errorf("postgres: create room: ai config: %w", err)
		}
		ai = b
	}
	created := stamp(r.CreatedAt)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO rooms (id, name, kind, created_by, created_at, last_seq, ai, direct_key)
			VALUES ($1, $2, $3, $4, $5, 0, $6, $7)`,
			r.ID, r.Name, string(r.Kind), r.CreatedBy, created, ai, nullString(directKey)); err != nil {
			return err
		}
		seen := make(map[string]bool, len(members)+1)
		add := func(user string, role chat.MemberRole) error {
			if user == "" || seen[user] {
				return nil
			}
			seen[user] = true
			tag, err := tx.Exec(ctx, `
				INSERT INTO members (room_id, user_id, role, added_at)
				SELECT $1, id, $2, $3 FROM accounts WHERE id = $4 AND deleted_at IS NULL`,
				r.ID, string(role), created, user)
			if err != nil {
				return err
			}
			return affected(tag, "user "+user)
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
	r, err := scanRoom(db.pool.QueryRow(ctx, `SELECT `+roomCols+` FROM rooms r WHERE r.direct_key = $1`, directKey))
	if err != nil {
		return chat.Room{}, wrap("direct room", err)
	}
	return r, nil
}

// Room returns a room by ID.
func (db *DB) Room(ctx context.Context, id string) (chat.Room, error) {
	r, err := scanRoom(db.pool.QueryRow(ctx, `SELECT `+roomCols+` FROM rooms r WHERE r.id = $1`, id))
	if err != nil {
		return chat.Room{}, wrap("room", err)
	}
	return r, nil
}

// RoomsFor lists public rooms and userID's rooms, oldest first; rooms
// created in the same microsecond fall back to ID order, which is also
// creation order for chat.NewID IDs.
func (db *DB) RoomsFor(ctx context.Context, userID string) ([]chat.Room, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+roomCols+` FROM rooms r
		WHERE r.kind = 'public'
		   OR EXISTS (SELECT 1 FROM members m WHERE m.room_id = r.id AND m.user_id = $1)
		ORDER BY r.created_at, r.id`, userID)
	if err != nil {
		return nil, wrap("rooms for", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chat.Room, error) { return scanRoom(row) })
	if err != nil {
		return nil, wrap("rooms for", err)
	}
	if out == nil {
		out = []chat.Room{}
	}
	return out, nil
}

// Members lists live members, owner first, then in the order added. An
// unknown room has no members.
func (db *DB) Members(ctx context.Context, roomID string) ([]chat.Member, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT a.id, a.username, a.display_name, a.role, m.role
		FROM members m JOIN accounts a ON a.id = m.user_id
		WHERE m.room_id = $1 AND a.deleted_at IS NULL
		ORDER BY m.role <> 'owner', m.pos`, roomID)
	if err != nil {
		return nil, wrap("members", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chat.Member, error) {
		var m chat.Member
		err := row.Scan(&m.User.ID, &m.User.Username, &m.User.DisplayName, &m.User.Role, &m.Role)
		return m, err
	})
	if err != nil {
		return nil, wrap("members", err)
	}
	if out == nil {
		out = []chat.Member{}
	}
	return out, nil
}

// MemberRole returns userID's role in the room. A deleted account is no
// longer a member, matching Members.
func (db *DB) MemberRole(ctx context.Context, roomID, userID string) (chat.MemberRole, error) {
	var role chat.MemberRole
	err := db.pool.QueryRow(ctx, `
		SELECT m.role FROM members m JOIN accounts a ON a.id = m.user_id
		WHERE m.room_id = $1 AND m.user_id = $2 AND a.deleted_at IS NULL`, roomID, userID).Scan(&role)
	if err != nil {
		return "", wrap("member role", err)
	}
	return role, nil
}

// AddMember is one INSERT … SELECT: it inserts nothing unless both the room
// and the live account exist, so no check can go stale before the insert.
// It returns the user, and whether a webhook receives the member_added
// event, which is then queued in the same transaction.
func (db *DB) AddMember(ctx context.Context, roomID, userID string, role chat.MemberRole) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var (
			m     outbox.Member
			hooks bool
		)
		err := tx.QueryRow(ctx, `
			WITH m AS (
				INSERT INTO members (room_id, user_id, role, added_at)
				SELECT r.id, a.id, $1, $2 FROM rooms r, accounts a
				WHERE r.id = $3 AND a.id = $4 AND a.deleted_at IS NULL
				RETURNING user_id, role
			)
			SELECT a.id, a.username, a.display_name, a.role, m.role, `+hooksFor(chat.EventMemberAdded, "$3::text")+`
			FROM m JOIN accounts a ON a.id = m.user_id`,
			string(role), chat.Now(), roomID, userID).
			Scan(&m.User.ID, &m.User.Username, &m.User.DisplayName, &m.User.Role, &m.Role, &hooks)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("room %s or user %s: %w", roomID, userID, chat.ErrNotFound)
		}
		if err != nil || !hooks {
			return err
		}
		return enqueue(ctx, tx, chat.EventMemberAdded, roomID, m, chat.Now())
	})
	return wrap("add member", err)
}

// RemoveMember deletes the membership row and, if a webhook receives it,
// queues the member_removed event (with the role the member had) in the
// same transaction.
func (db *DB) RemoveMember(ctx context.Context, roomID, userID string) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var (
			m     outbox.Member
			hooks bool
		)
		err := tx.QueryRow(ctx, `
			WITH m AS (
				DELETE FROM members WHERE room_id = $1 AND user_id = $2 RETURNING user_id, role
			)
			SELECT a.id, a.username, a.display_name, a.role, m.role, `+hooksFor(chat.EventMemberRemoved, "$1::text")+`
			FROM m JOIN accounts a ON a.id = m.user_id`,
			roomID, userID).
			Scan(&m.User.ID, &m.User.Username, &m.User.DisplayName, &m.User.Role, &m.Role, &hooks)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("member %s of room %s: %w", userID, roomID, chat.ErrNotFound)
		}
		if err != nil || !hooks {
			return err
		}
		return enqueue(ctx, tx, chat.EventMemberRemoved, roomID, m, chat.Now())
	})
	return wrap("remove member", err)
}

// LastSeqs returns last_seq for the rooms among roomIDs that exist.
func (db *DB) LastSeqs(ctx context.Context, roomIDs []string) (map[string]int64, error) {
	out := make(map[string]int64, len(roomIDs))
	if len(roomIDs) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id, last_seq FROM rooms WHERE id = ANY($1)`, roomIDs)
	if err != nil {
		return nil, wrap("last seqs", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, wrap("last seqs", err)
		}
		out[id] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("last seqs", err)
	}
	return out, nil
}
