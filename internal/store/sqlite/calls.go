package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/callrow"
)

const callCols = `id, room_id, kind, state, sfu_node, started_by, started_at, ended_at, ended_reason,
	ring_until, invited, participants, version`

func scanCall(s scanner) (chat.CallRecord, error) {
	var (
		c                     chat.CallRecord
		kind, state           string
		started               int64
		ended, ringUntil      sql.NullInt64
		invited, participants string
	)
	if err := s.Scan(&c.ID, &c.Room, &kind, &state, &c.SFUNode, &c.StartedBy, &started, &ended,
		&c.EndedReason, &ringUntil, &invited, &participants, &c.Version); err != nil {
		return chat.CallRecord{}, err
	}
	c.Kind, c.State = chat.CallKind(kind), chat.CallState(state)
	c.StartedAt = fromMicros(started)
	if ended.Valid {
		c.EndedAt = fromMicros(ended.Int64)
	}
	if ringUntil.Valid {
		c.RingUntil = fromMicros(ringUntil.Int64)
	}
	if err := callrow.Decode(&c, invited, participants); err != nil {
		return chat.CallRecord{}, err
	}
	return c, nil
}

func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

// CreateCall stores a new call with version 1 and returns it as stored.
// The unique partial index on live calls makes a second live call in the
// room fail with chat.ErrConflict, whichever hub inserts it.
func (db *DB) CreateCall(ctx context.Context, c chat.CallRecord) (chat.CallRecord, error) {
	const op = "create call"
	invited, participants, err := callrow.Encode(c)
	if err != nil {
		return chat.CallRecord{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	row := db.w.QueryRowContext(ctx, `
		INSERT INTO calls (`+callCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		RETURNING `+callCols,
		c.ID, c.Room, string(c.Kind), string(c.State), c.SFUNode, c.StartedBy, stamp(c.StartedAt),
		nullMicros(c.EndedAt), c.EndedReason, nullMicros(c.RingUntil), invited, participants)
	stored, err := scanCall(row)
	if err != nil {
		return chat.CallRecord{}, wrap(op, err)
	}
	return stored, nil
}

// LiveCall returns the room's call that has not ended; chat.ErrNotFound
// if there is none.
func (db *DB) LiveCall(ctx context.Context, roomID string) (chat.CallRecord, error) {
	c, err := scanCall(db.r.QueryRowContext(ctx,
		`SELECT `+callCols+` FROM calls WHERE room_id = ? AND state <> 'ended'`, roomID))
	if err != nil {
		return chat.CallRecord{}, wrap("live call", err)
	}
	return c, nil
}

// CallByID returns one call, ended or not; chat.ErrNotFound if none.
func (db *DB) CallByID(ctx context.Context, id string) (chat.CallRecord, error) {
	c, err := scanCall(db.r.QueryRowContext(ctx, `SELECT `+callCols+` FROM calls WHERE id = ?`, id))
	if err != nil {
		return chat.CallRecord{}, wrap("call", err)
	}
	return c, nil
}

// UpdateCall replaces the call's changeable fields if its stored version is
// still expect, bumping the version. The version check and the write are
// one statement; a miss is told apart (not found vs changed) afterwards.
func (db *DB) UpdateCall(ctx context.Context, c chat.CallRecord, expect int64) (chat.CallRecord, error) {
	const op = "update call"
	invited, participants, err := callrow.Encode(c)
	if err != nil {
		return chat.CallRecord{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	stored, err := scanCall(db.w.QueryRowContext(ctx, `
		UPDATE calls SET state = ?, sfu_node = ?, ended_at = ?, ended_reason = ?, ring_until = ?,
			invited = ?, participants = ?, version = version + 1
		WHERE id = ? AND version = ?
		RETURNING `+callCols,
		string(c.State), c.SFUNode, nullMicros(c.EndedAt), c.EndedReason, nullMicros(c.RingUntil),
		invited, participants, c.ID, expect))
	if err == nil {
		return stored, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return chat.CallRecord{}, wrap(op, err)
	}
	var n int
	if err := db.w.QueryRowContext(ctx, `SELECT count(*) FROM calls WHERE id = ?`, c.ID).Scan(&n); err != nil {
		return chat.CallRecord{}, wrap(op, err)
	}
	if n == 0 {
		return chat.CallRecord{}, fmt.Errorf("sqlite: %s: call %s: %w", op, c.ID, chat.ErrNotFound)
	}
	return chat.CallRecord{}, fmt.Errorf("sqlite: %s: call %s at version %d: %w", op, c.ID, expect, chat.ErrCallChanged)
}

// LiveCalls returns every call that has not ended, oldest first.
func (db *DB) LiveCalls(ctx context.Context) ([]chat.CallRecord, error) {
	const op = "live calls"
	rows, err := db.r.QueryContext(ctx,
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
