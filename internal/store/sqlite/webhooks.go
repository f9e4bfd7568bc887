package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/outbox"
)

// hookMatch selects the webhooks that receive an event; its two
// parameters are the event type and the room. A webhook without a room
// receives the events of every room.
const hookMatch = ` FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
	WHERE e.event_type = ? AND (w.room_id IS NULL OR w.room_id = ?)`

// enqueue writes one delivery of a new event per matching webhook, in the
// caller's transaction, so the event is queued exactly when the change
// that caused it commits. With no matching webhook it costs one probe of
// the webhook_events primary key and builds no body.
func enqueue(ctx context.Context, tx *sql.Tx, typ, room string, data any, at time.Time) error {
	var matched bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1`+hookMatch+`)`, typ, room).Scan(&matched); err != nil {
		return fmt.Errorf("webhook outbox: %w", err)
	}
	if !matched {
		return nil
	}
	id, body, err := outbox.Event(typ, room, data, at)
	if err != nil {
		return err
	}
	now := micros(chat.Now())
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, body, next_attempt_at, created_at)
		SELECT w.id, ?, ?, ?, ?, ?`+hookMatch,
		id, typ, body, now, now, typ, room); err != nil {
		return fmt.Errorf("webhook outbox: %w", err)
	}
	return nil
}

// CreateWebhook stores w with its event types in one transaction.
func (db *DB) CreateWebhook(ctx context.Context, w chat.Webhook) error {
	err := inTx(ctx, db.w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO webhooks (id, url, secret, room_id, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			w.ID, w.URL, w.Secret, nullString(w.Room), w.CreatedBy, stamp(w.CreatedAt)); err != nil {
			return err
		}
		for _, typ := range w.Events {
			if _, err := tx.ExecContext(ctx,
				`INSERT OR IGNORE INTO webhook_events (event_type, webhook_id) VALUES (?, ?)`, typ, w.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("create webhook", err)
}

const selectWebhook = `SELECT w.id, w.url, w.secret, w.room_id, w.created_by, w.created_at,
	(SELECT group_concat(e.event_type, ',') FROM webhook_events e WHERE e.webhook_id = w.id)
	FROM webhooks w`

func scanWebhook(s scanner) (chat.Webhook, error) {
	var (
		w       chat.Webhook
		room    sql.NullString
		created int64
		events  sql.NullString
	)
	if err := s.Scan(&w.ID, &w.URL, &w.Secret, &room, &w.CreatedBy, &created, &events); err != nil {
		return chat.Webhook{}, err
	}
	w.Room = room.String
	w.CreatedAt = fromMicros(created)
	w.Events = []string{}
	if events.String != "" {
		w.Events = strings.Split(events.String, ",")
	}
	outbox.SortTypes(w.Events)
	return w, nil
}

// Webhooks lists every webhook, oldest first.
func (db *DB) Webhooks(ctx context.Context) ([]chat.Webhook, error) {
	rows, err := db.r.QueryContext(ctx, selectWebhook+` ORDER BY w.created_at, w.id`)
	if err != nil {
		return nil, wrap("webhooks", err)
	}
	defer rows.Close()
	out := []chat.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, wrap("webhooks", err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("webhooks", err)
	}
	return out, nil
}

// Webhook returns one webhook by ID.
func (db *DB) Webhook(ctx context.Context, id string) (chat.Webhook, error) {
	w, err := scanWebhook(db.r.QueryRowContext(ctx, selectWebhook+` WHERE w.id = ?`, id))
	if err != nil {
		return chat.Webhook{}, wrap("webhook", err)
	}
	return w, nil
}

// DeleteWebhook deletes a webhook; its event types, deliveries (pending
// ones included, so they are never attempted again) and attempts go with
// it by cascade.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return wrap("delete webhook", err)
	}
	return affected("delete webhook", res, "webhook "+id)
}

// WebhookDeliveries returns one page of a webhook's delivery log, newest
// first, each with its attempts. Both reads share one snapshot, so a
// delivery's status and attempts agree.
func (db *DB) WebhookDeliveries(ctx context.Context, webhookID string, q chat.DeliveryQuery) ([]chat.WebhookDelivery, error) {
	const op = "webhook deliveries"
	if q.Limit <= 0 {
		return nil, fmt.Errorf("sqlite: %s: limit %d must be > 0", op, q.Limit)
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, wrap(op, err)
	}
	defer func() { _ = tx.Rollback() }()

	where, args := ` WHERE d.webhook_id = ?`, []any{webhookID}
	if q.Before != "" {
		var pos int64
		err := tx.QueryRowContext(ctx, `SELECT pos FROM webhook_deliveries WHERE webhook_id = ? AND event_id = ?`,
			webhookID, q.Before).Scan(&pos)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("sqlite: %s: delivery %s: %w", op, q.Before, chat.ErrNotFound)
		}
		if err != nil {
			return nil, wrap(op, err)
		}
		where += ` AND d.pos < ?`
		args = append(args, pos)
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT d.pos, d.webhook_id, d.event_id, d.event_type, d.body, d.status, d.created_at, d.next_attempt_at, d.finished_at
		FROM webhook_deliveries d`+where+` ORDER BY d.pos DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, wrap(op, err)
	}
	out := []chat.WebhookDelivery{}
	var positions []any
	index := map[int64]int{}
	for rows.Next() {
		var (
			d               chat.WebhookDelivery
			pos, created    int64
			next            int64
			finished        sql.NullInt64
			status, evtType string
		)
		if err := rows.Scan(&pos, &d.WebhookID, &d.EventID, &evtType, &d.Body, &status, &created, &next, &finished); err != nil {
			rows.Close()
			return nil, wrap(op, err)
		}
		d.EventType, d.Status = evtType, chat.DeliveryStatus(status)
		d.CreatedAt = fromMicros(created)
		if d.Status == chat.DeliveryPending {
			t := fromMicros(next)
			d.NextAttemptAt = &t
		}
		if finished.Valid {
			t := fromMicros(finished.Int64)
			d.FinishedAt = &t
		}
		d.Attempts = []chat.DeliveryAttempt{}
		index[pos] = len(out)
		positions = append(positions, pos)
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	if len(out) == 0 {
		return out, nil
	}
	rows, err = tx.QueryContext(ctx, `
		SELECT delivery_pos, n, at, status_code, error, duration_us, node FROM webhook_attempts
		WHERE delivery_pos IN (?`+strings.Repeat(", ?", len(positions)-1)+`) ORDER BY delivery_pos, n`, positions...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a        chat.DeliveryAttempt
			pos, at  int64
			code     sql.NullInt64
			duration int64
		)
		if err := rows.Scan(&pos, &a.N, &at, &code, &a.Error, &duration, &a.Node); err != nil {
			return nil, wrap(op, err)
		}
		a.At = fromMicros(at)
		a.StatusCode = int(code.Int64)
		a.Duration = time.Duration(duration) * time.Microsecond
		i := index[pos]
		out[i].Attempts = append(out[i].Attempts, a)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// ClaimDeliveries leases up to limit due deliveries to owner until
// now+lease: pending ones whose next attempt is due and that no live lease
// holds, soonest first. The read and the lease share one IMMEDIATE
// transaction, so two claimers (in this process or another) never get the
// same delivery while its lease lasts.
func (db *DB) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]chat.DeliveryJob, error) {
	const op = "claim deliveries"
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: %s: limit %d must be > 0", op, limit)
	}
	var jobs []chat.DeliveryJob
	err := inTx(ctx, db.w, func(tx *sql.Tx) error {
		jobs = nil
		at := micros(now)
		rows, err := tx.QueryContext(ctx, `
			SELECT d.pos, d.webhook_id, w.url, w.secret, d.event_id, d.event_type, d.body, d.attempts, d.created_at
			FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until <= ?)
			ORDER BY d.next_attempt_at, d.pos LIMIT ?`, at, at, limit)
		if err != nil {
			return err
		}
		var args []any
		for rows.Next() {
			var j chat.DeliveryJob
			var created int64
			if err := rows.Scan(&j.Delivery, &j.WebhookID, &j.URL, &j.Secret, &j.EventID, &j.EventType, &j.Body,
				&j.Attempts, &created); err != nil {
				rows.Close()
				return err
			}
			j.CreatedAt = fromMicros(created)
			jobs = append(jobs, j)
			args = append(args, j.Delivery)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(jobs) == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_deliveries SET leased_by = ?, lease_until = ?
			WHERE pos IN (?`+strings.Repeat(", ?", len(args)-1)+`)`,
			append([]any{owner, micros(now.Add(lease))}, args...)...)
		return err
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return jobs, nil
}

// FinishAttempt records one attempt of a delivery owner holds and moves
// the delivery on as o says, releasing the lease; the attempt's number is
// the delivery's attempt count after it. chat.ErrNotFound if owner no
// longer holds it (its lease was taken over, or the webhook was deleted):
// nothing is recorded then.
func (db *DB) FinishAttempt(ctx context.Context, delivery int64, owner string, o chat.DeliveryOutcome) error {
	const op = "finish attempt"
	if err := checkOutcome(o); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	var next, finished sql.NullInt64
	if o.Status == chat.DeliveryPending {
		next = sql.NullInt64{Int64: micros(o.NextAttemptAt), Valid: true}
	} else {
		finished = sql.NullInt64{Int64: stamp(o.Attempt.At), Valid: true}
	}
	var code sql.NullInt64
	if o.Attempt.StatusCode != 0 {
		code = sql.NullInt64{Int64: int64(o.Attempt.StatusCode), Valid: true}
	}
	err := inTx(ctx, db.w, func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, `
			UPDATE webhook_deliveries
			SET attempts = attempts + 1, status = ?, next_attempt_at = coalesce(?, next_attempt_at),
			    lease_until = NULL, leased_by = NULL, last_status = ?, last_error = ?, finished_at = ?
			WHERE pos = ? AND leased_by = ? AND status = 'pending'
			RETURNING attempts`,
			string(o.Status), next, code, o.Attempt.Error, finished, delivery, owner).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("delivery %d held by %s: %w", delivery, owner, chat.ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO webhook_attempts (delivery_pos, n, at, status_code, error, duration_us, node)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			delivery, n, stamp(o.Attempt.At), code, o.Attempt.Error, o.Attempt.Duration.Microseconds(), o.Attempt.Node)
		return err
	})
	return wrap(op, err)
}

// checkOutcome refuses an outcome no dispatcher should produce, rather
// than storing a status the claim query would never look at again.
func checkOutcome(o chat.DeliveryOutcome) error {
	switch o.Status {
	case chat.DeliveryDelivered, chat.DeliveryFailed:
		return nil
	case chat.DeliveryPending:
		if o.NextAttemptAt.IsZero() {
			return errors.New("a pending outcome needs NextAttemptAt")
		}
		return nil
	}
	return fmt.Errorf("unknown delivery status %q", o.Status)
}
