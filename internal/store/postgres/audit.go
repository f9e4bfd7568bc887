package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/auditid"
)

// auditCols reads an entry aliased l with its actor's account aliased a.
// The LEFT JOIN does not filter deleted accounts: an entry keeps showing
// who acted. An actor with no account row at all comes back with its ID
// only.
const auditCols = `l.id, l.at, l.actor_id, a.username, a.display_name, a.role,
	l.action, l.target, l.ip, l.detail`

func scanAudit(row pgx.Row) (chat.AuditEntry, error) {
	var (
		e                       chat.AuditEntry
		id                      int64
		at                      time.Time
		actor, name, disp, role *string
		detail                  []byte
	)
	if err := row.Scan(&id, &at, &actor, &name, &disp, &role, &e.Action, &e.Target, &e.IP, &detail); err != nil {
		return chat.AuditEntry{}, err
	}
	e.ID = auditid.Format(id)
	e.At = at.UTC()
	if actor != nil {
		e.Actor = &chat.User{ID: *actor, Username: deref(name), DisplayName: deref(disp), Role: chat.Role(deref(role))}
	}
	e.Detail = detail
	return e, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// appendAudit inserts and reads the row back with its actor in one
// statement.
const appendAudit = `
	WITH l AS (
		INSERT INTO audit_log (at, actor_id, action, target, ip, detail)
		VALUES ($1, $2, $3, $4, $5, $6::json)
		RETURNING *
	)
	SELECT ` + auditCols + ` FROM l LEFT JOIN accounts a ON a.id = l.actor_id`

// AppendAudit stores e with the next ID and returns it as stored.
//
// An identity column alone hands out IDs in insert order but lets them
// commit out of order across connections: a reader could page past ID 5
// while it is still uncommitted and never see it. The table lock, which
// conflicts only with itself and other writers (never with readers), makes
// the next insert wait for the previous commit, so every committed ID is
// greater than every ID committed before it. Audit writes are rare next to
// messages, so serialising them costs little.
func (db *DB) AppendAudit(ctx context.Context, e chat.AuditEntry) (chat.AuditEntry, error) {
	const op = "append audit"
	detail, err := chat.AuditDetail(e.Detail)
	if err != nil {
		return chat.AuditEntry{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	if e.Action == "" {
		return chat.AuditEntry{}, errors.New("postgres: append audit: empty action")
	}
	var actor *string
	if e.Actor != nil {
		actor = nullString(e.Actor.ID)
	}
	var stored chat.AuditEntry
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var err error
		stored, err = scanAudit(tx.QueryRow(ctx, appendAudit,
			stamp(e.At), actor, e.Action, e.Target, e.IP, string(detail)))
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
		return nil, fmt.Errorf("postgres: %s: limit %d must be positive", op, limit)
	}
	bound, err := auditid.Before(before)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+auditCols+`
		FROM audit_log l LEFT JOIN accounts a ON a.id = l.actor_id
		WHERE l.id < $1 ORDER BY l.id DESC LIMIT $2`, bound, limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.AuditEntry, error) { return scanAudit(r) })
	if err != nil {
		return nil, wrap(op, err)
	}
	if out == nil {
		out = []chat.AuditEntry{}
	}
	return out, nil
}
