package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/callrow"
)

const callCols = `id, room_id, kind, state, sfu_node, started_by, started_at, ended_at, ended_reason,
	ring_until, invited, participants, version`

func scanCall(row pgx.Row) (chat.CallRecord, error) {
	var (
		c                     chat.CallRecord
		kind, state           string
		ended, ringUntil      *time.Time
		invited, participants string
	)
	if err := row.Scan(&c.ID, &c.Room, &kind, &state, &c.SFUNode, &c.StartedBy, &c.StartedAt, &ended,
		&c.EndedReason, &ringUntil, &invited, &participants, &c.Version); err != nil {
		return chat.CallRecord{}, err
	}
	c.Kind, c.State = chat.CallKind(kind), chat.CallState(state)
	c.StartedAt = c.StartedAt.UTC()
	if ended != nil {
		c.EndedAt = ended.UTC()
	}
	if ringUntil != nil {
		c.RingUntil = ringUntil.UTC()
	}
	if err := callrow.Decode(&c, invited, participants); err != nil {
		return chat.CallRecord{}, err
	}
	return c, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Truncate(time.Microsecond)
	return &s
}

// CreateCall stores a new call with version 1 and returns it as stored.
// The unique partial index on live calls makes a second live call in the
// room fail with chat.ErrConflict, whichever hub inserts it.
func (db *DB) CreateCall(ctx context.Context, c chat.CallRecord) (chat.CallRecord, error) {
	const op = "create call"
	invited, participants, err := callrow.Encode(c)
	if err != nil {
		return chat.CallRecord{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	stored, err := scanCall(db.pool.QueryRow(ctx, `
		INSERT INTO calls (`+callCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1)
		RETURNING `+callCols,
		c.ID, c.Room, string(c.Kind), string(c.State), c.SFUNode, c.StartedBy, stamp(c.StartedAt),
		nullTime(c.EndedAt), c.EndedReason, nullTime(c.RingUntil), invited, participants))
	if err != nil {
		return chat.CallRecord{}, wrap(op, err)
	}
	return stored, nil
}

// LiveCall returns the room's call that has not ended; chat.ErrNotFound
// if there is none.
func (db *DB) LiveCall(ctx context.Context, roomID string) (chat.CallRecord, error) {
	c, err := scanCall(db.pool.QueryRow(ctx,
		`SELECT `+callCols+` FROM calls WHERE room_id = $1 AND state <> 'ended'`, roomID))
	if err != nil {
		return chat.CallRecord{}, wrap("live call", err)
	}
	return c, nil
}

// CallByID returns one call, ended or not; chat.ErrNotFound if none.
func (db *DB) CallByID(ctx context.Context, id string) (chat.CallRecord, error) {
	c, err := scanCall(db.pool.QueryRow(ctx, `SELECT `+callCols+` FROM calls WHERE id = $1`, id))
	if err != nil {
		return chat.CallRecord{}, wrap("call", err)
	}
	return c, nil
}

// UpdateCall replaces the call's changeable fields if its stored version is
// still expect, bumping the version. Under READ COMMITTED the losing one of
// two concurrent updates re-checks the version after the winner commits,
// so it matches no row: exactly one wins.
func (db *DB) UpdateCall(ctx context.Context, c chat.CallRecord, expect int64) (chat.CallRecord, error) {
	const op = "update call"
	invited, participants, err := callrow.Encode(c)
	if err != nil {
		return chat.CallRecord{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	stored, err := scanCall(db.pool.QueryRow(ctx, `
		UPDATE calls SET state = $1, sfu_node = $2, ended_at = $3, ended_reason = $4, ring_until = $5,
			invited = $6, participants = $7, version = version + 1
		WHERE id = $8 AND version = $9
		RETURNING `+callCols,
		string(c.State), c.SFUNode, nullTime(c.EndedAt), c.EndedReason, nullTime(c.RingUntil),
		invited, participants, c.ID, expect))
	if err == nil {
		return stored, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return chat.CallRecord{}, wrap(op, err)
	}
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM calls WHERE id = $1)`, c.ID).Scan(&exists); err != nil {
		return chat.CallRecord{}, wrap(op, err)
	}
	if !exists {
		return chat.CallRecord{}, fmt.Errorf("postgres: %s: call %s: %w", op, c.ID, chat.ErrNotFound)
	}
	return chat.CallRecord{}, fmt.Errorf("postgres: %s: call %s at version %d: %w", op, c.ID, expect, chat.ErrCallChanged)
}

// LiveCalls returns every call that has not ended, oldest first.
func (db *DB) LiveCalls(ctx context.Context) ([]chat.CallRecord, error) {
	const op = "live calls"
	rows, err := db.pool.Query(ctx,
		`SELECT `+callCols+` FROM calls WHERE state <> 'ended' ORDER BY started_at, id`)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	out := []chat.CallRecord{}
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}
