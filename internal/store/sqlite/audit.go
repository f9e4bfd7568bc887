package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/auditid"
)

// auditCols reads an entry aliased l with its actor's account aliased a.
// The LEFT JOIN does not filter deleted accounts: an entry keeps showing
// who acted. An actor with no account row at all comes back with its ID
// only.
const auditCols = `l.id, l.at, l.actor_id, a.username, a.display_name, a.role,
	l.action, l.target, l.ip, l.detail`

const selectAudit = `SELECT ` + auditCols + ` FROM audit_log l LEFT JOIN accounts a ON a.id = l.actor_id`

func scanAudit(s scanner) (chat.AuditEntry, error) {
	var (
		e                       chat.AuditEntry
		id, at                  int64
		actor, name, disp, role sql.NullString
		detail                  string
	)
	if err := s.Scan(&id, &at, &actor, &name, &disp, &role, &e.Action, &e.Target, &e.IP, &detail); err != nil {
		return chat.AuditEntry{}, err
	}
	e.ID = auditid.Format(id)
	e.At = fromMicros(at)
	if actor.Valid {
		e.Actor = &chat.User{ID: actor.String, Username: name.String, DisplayName: disp.String, Role: chat.Role(role.String)}
	}
	e.Detail = json.RawMessage(detail)
	return e, nil
}

// AppendAudit stores e with the next ID and returns it as stored. The
// writer pool has one connection, so IDs are handed out and committed in
// the same order.
func (db *DB) AppendAudit(ctx context.Context, e chat.AuditEntry) (chat.AuditEntry, error) {
	const op = "append audit"
	detail, err := chat.AuditDetail(e.Detail)
	if err != nil {
		return chat.AuditEntry{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if e.Action == "" {
		return chat.AuditEntry{}, errors.New("sqlite: append audit: empty action")
	}
	var actor sql.NullString
	if e.Actor != nil {
		actor = nullString(e.Actor.ID)
	}
	var stored chat.AuditEntry
	err = inTx(ctx, db.w, func(tx *sql.Tx) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO audit_log (at, actor_id, action, target, ip, detail) VALUES (?, ?, ?, ?, ?, ?)
			RETURNING id`,
			stamp(e.At), actor, e.Action, e.Target, e.IP, string(detail)).Scan(&id); err != nil {
			return err
		}
		var err error
		stored, err = scanAudit(tx.QueryRowContext(ctx, selectAudit+` WHERE l.id = ?`, id))
		return err
	})
	if err != nil {
		return chat.AuditEntry{}, wrap(op, err)
	}
	return stored, nil
}

// AuditEntries returns up to limit entries older than the entry before
// (any entry when before is empty), newest first.
func (db *DB) AuditEntries(ctx context.Context, before string, limit int) ([]chat.AuditEntry, error) {
	const op = "audit entries"
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: %s: limit %d must be positive", op, limit)
	}
	bound, err := auditid.Before(before)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	rows, err := db.r.QueryContext(ctx, selectAudit+` WHERE l.id < ? ORDER BY l.id DESC LIMIT ?`, bound, limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	out := []chat.AuditEntry{}
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}
