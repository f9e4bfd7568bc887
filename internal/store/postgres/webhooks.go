package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/outbox"
)

// hooksFor is a boolean SQL expression: does any webhook receive events of
// type typ (one of the chat constants) in the room roomExpr names? A
// webhook without a room receives the events of every room. It is added as
// a column to the statement making a change, so a change no webhook
// receives costs one primary-key probe and no extra round trip.
func hooksFor(typ, roomExpr string) string {
	return `EXISTS (SELECT 1 FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
		WHERE e.event_type = '` + strings.ReplaceAll(typ, "'", "''") + `' AND (w.room_id IS NULL OR w.room_id = ` + roomExpr + `))`
}

// enqueue writes one delivery of a new event per matching webhook, in the
// caller's transaction, so the event is queued exactly when the change
// that caused it commits.
func enqueue(ctx context.Context, tx pgx.Tx, typ, room string, data any, at time.Time) error {
	id, body, err := outbox.Event(typ, room, data, at)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, body, next_attempt_at, created_at)
		SELECT w.id, $1, $2, $3, $4, $4
		FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
		WHERE e.event_type = $2 AND (w.room_id IS NULL OR w.room_id = $5)`,
		id, typ, body, chat.Now(), room); err != nil {
		return fmt.Errorf("webhook outbox: %w", err)
	}
	return nil
}

// CreateWebhook stores w with its event types in one transaction.
func (db *DB) CreateWebhook(ctx context.Context, w chat.Webhook) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO webhooks (id, url, secret, room_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			w.ID, w.URL, w.Secret, nullString(w.Room), w.CreatedBy, stamp(w.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO webhook_events (event_type, webhook_id)
			SELECT DISTINCT t, $2::text FROM unnest($1::text[]) AS t
			ON CONFLICT DO NOTHING`, w.Events, w.ID)
		return err
	})
	return wrap("create webhook", err)
}

const selectWebhook = `SELECT w.id, w.url, w.secret, w.room_id, w.created_by, w.created_at,
	ARRAY(SELECT e.event_type FROM webhook_events e WHERE e.webhook_id = w.id)
	FROM webhooks w`

func scanWebhook(row pgx.Row) (chat.Webhook, error) {
	var (
		w    chat.Webhook
		room *string
	)
	if err := row.Scan(&w.ID, &w.URL, &w.Secret, &room, &w.CreatedBy, &w.CreatedAt, &w.Events); err != nil {
		return chat.Webhook{}, err
	}
	if room != nil {
		w.Room = *room
	}
	w.CreatedAt = w.CreatedAt.UTC()
	if w.Events == nil {
		w.Events = []string{}
	}
	outbox.SortTypes(w.Events)
	return w, nil
}

// Webhooks lists every webhook, oldest first.
func (db *DB) Webhooks(ctx context.Context) ([]chat.Webhook, error) {
	rows, err := db.pool.Query(ctx, selectWebhook+` ORDER BY w.created_at, w.id`)
	if err != nil {
		return nil, wrap("webhooks", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (chat.Webhook, error) { return scanWebhook(row) })
	if err != nil {
		return nil, wrap("webhooks", err)
	}
	if out == nil {
		out = []chat.Webhook{}
	}
	return out, nil
}

// Webhook returns one webhook by ID.
func (db *DB) Webhook(ctx context.Context, id string) (chat.Webhook, error) {
	w, err := scanWebhook(db.pool.QueryRow(ctx, selectWebhook+` WHERE w.id = $1`, id))
	if err != nil {
		return chat.Webhook{}, wrap("webhook", err)
	}
	return w, nil
}

// DeleteWebhook deletes a webhook; its event types, deliveries (pending
// ones included, so no hub attempts them again) and attempts go with it by
// cascade.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err != nil {
		return wrap("delete webhook", err)
	}
	return wrap("delete webhook", affected(tag, "webhook "+id))
}

// WebhookDeliveries returns one page of a webhook's delivery log, newest
// first, each with its attempts. Both reads share one snapshot
// (REPEATABLE READ), so a delivery's status and attempts agree.
func (db *DB) WebhookDeliveries(ctx context.Context, webhookID string, q chat.DeliveryQuery) ([]chat.WebhookDelivery, error) {
	const op = "webhook deliveries"
	if q.Limit <= 0 {
		return nil, fmt.Errorf("postgres: %s: limit %d must be > 0", op, q.Limit)
	}
	var out []chat.WebhookDelivery
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		before := int64(-1) // no bound
		if q.Before != "" {
			err := tx.QueryRow(ctx, `SELECT pos FROM webhook_deliveries WHERE webhook_id = $1 AND event_id = $2`,
				webhookID, q.Before).Scan(&before)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("delivery %s: %w", q.Before, chat.ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `
			SELECT d.pos, d.webhook_id, d.event_id, d.event_type, d.body, d.status, d.created_at, d.next_attempt_at, d.finished_at
			FROM webhook_deliveries d
			WHERE d.webhook_id = $1 AND ($2 < 0 OR d.pos < $2)
			ORDER BY d.pos DESC LIMIT $3`, webhookID, before, q.Limit)
		if err != nil {
			return err
		}
		var positions []int64
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (chat.WebhookDelivery, error) {
			var (
				d      chat.WebhookDelivery
				pos    int64
				next   time.Time
				status string
			)
			if err := row.Scan(&pos, &d.WebhookID, &d.EventID, &d.EventType, &d.Body, &status, &d.CreatedAt, &next, &d.FinishedAt); err != nil {
				return d, err
			}
			d.Status = chat.DeliveryStatus(status)
			d.CreatedAt = d.CreatedAt.UTC()
			if d.Status == chat.DeliveryPending {
				next = next.UTC()
				d.NextAttemptAt = &next
			}
			if d.FinishedAt != nil {
				t := d.FinishedAt.UTC()
				d.FinishedAt = &t
			}
			d.Attempts = []chat.DeliveryAttempt{}
			positions = append(positions, pos)
			return d, nil
		})
		if err != nil || len(out) == 0 {
			return err
		}
		index := make(map[int64]int, len(positions))
		for i, p := range positions {
			index[p] = i
		}
		rows, err = tx.Query(ctx, `
			SELECT delivery_pos, n, at, status_code, error, duration_us, node FROM webhook_attempts
			WHERE delivery_pos = ANY($1) ORDER BY delivery_pos, n`, positions)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a        chat.DeliveryAttempt
				pos      int64
				code     *int32
				duration int64
			)
			if err := rows.Scan(&pos, &a.N, &a.At, &code, &a.Error, &duration, &a.Node); err != nil {
				return err
			}
			a.At = a.At.UTC()
			if code != nil {
				a.StatusCode = int(*code)
			}
			a.Duration = time.Duration(duration) * time.Microsecond
			i := index[pos]
			out[i].Attempts = append(out[i].Attempts, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if out == nil {
		out = []chat.WebhookDelivery{}
	}
	return out, nil
}

// ClaimDeliveries leases up to limit due deliveries to owner until
// now+lease: pending ones whose next attempt is due and that no live lease
// holds, soonest first. FOR UPDATE SKIP LOCKED lets hubs claiming at the
// same time each take different rows without waiting for one another, and
// a row another hub leased and committed since this statement's snapshot
// is re-checked against the lease condition, so two hubs never hold the
// same delivery at once.
func (db *DB) ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]chat.DeliveryJob, error) {
	const op = "claim deliveries"
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: %s: limit %d must be > 0", op, limit)
	}
	rows, err := db.pool.Query(ctx, `
		WITH c AS (
			SELECT pos FROM webhook_deliveries
			WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
			ORDER BY next_attempt_at, pos
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE webhook_deliveries d SET leased_by = $3, lease_until = $4
		FROM c, webhooks w
		WHERE d.pos = c.pos AND w.id = d.webhook_id
		RETURNING d.pos, d.webhook_id, w.url, w.secret, d.event_id, d.event_type, d.body, d.attempts, d.created_at, d.next_attempt_at`,
		stamp(now), limit, owner, stamp(now.Add(lease)))
	if err != nil {
		return nil, wrap(op, err)
	}
	type claimed struct {
		job  chat.DeliveryJob
		next time.Time
	}
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
		var c claimed
		j := &c.job
		err := row.Scan(&j.Delivery, &j.WebhookID, &j.URL, &j.Secret, &j.EventID, &j.EventType, &j.Body,
			&j.Attempts, &j.CreatedAt, &c.next)
		j.CreatedAt = j.CreatedAt.UTC()
		return c, err
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	// RETURNING has no order of its own; give the jobs the claim's.
	slices.SortFunc(got, func(a, b claimed) int {
		if c := a.next.Compare(b.next); c != 0 {
			return c
		}
		return cmp.Compare(a.job.Delivery, b.job.Delivery)
	})
	jobs := make([]chat.DeliveryJob, len(got))
	for i, c := range got {
		jobs[i] = c.job
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
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	var next, finished *time.Time
	if o.Status == chat.DeliveryPending {
		t := stamp(o.NextAttemptAt)
		next = &t
	} else {
		t := stamp(o.Attempt.At)
		finished = &t
	}
	var code *int32
	if o.Attempt.StatusCode != 0 {
		c := int32(o.Attempt.StatusCode)
		code = &c
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var n int
		err := tx.QueryRow(ctx, `
			UPDATE webhook_deliveries
			SET attempts = attempts + 1, status = $1, next_attempt_at = coalesce($2, next_attempt_at),
			    lease_until = NULL, leased_by = NULL, last_status = $3, last_error = $4, finished_at = $5
			WHERE pos = $6 AND leased_by = $7 AND status = 'pending'
			RETURNING attempts`,
			string(o.Status), next, code, o.Attempt.Error, finished, delivery, owner).Scan(&n)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("delivery %d held by %s: %w", delivery, owner, chat.ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO webhook_attempts (delivery_pos, n, at, status_code, error, duration_us, node)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
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
