package postgres

import (
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/postgres/pgtest"
)

// TestAuditIDsCommitInOrder: an append waits for an earlier one that has
// not committed yet, so a reader never sees a newer entry while an older
// one is still missing (it would page past it and never see it). Without
// the table lock the second append commits at once with the greater ID.
func TestAuditIDsCommitInOrder(t *testing.T) {
	db := openTest(t, pgtest.URL(t))
	ctx := t.Context()

	// An insert in flight, not yet committed. It takes only the insert's
	// own lock, so it is a fair stand-in for an earlier append whether or
	// not appends lock the table.
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var first int64
	if err := tx.QueryRow(ctx, `INSERT INTO audit_log (at, action, detail) VALUES (now(), 'first', '{}') RETURNING id`).Scan(&first); err != nil {
		t.Fatal(err)
	}

	type result struct {
		e   chat.AuditEntry
		err error
	}
	done := make(chan result, 1)
	go func() {
		e, err := db.AppendAudit(ctx, chat.AuditEntry{Action: "second"})
		done <- result{e, err}
	}()

	// Wait until the second append is queued on the lock, or fail if it
	// finishes while the first is uncommitted.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := db.pool.QueryRow(ctx,
			`SELECT count(*) FROM pg_locks WHERE relation = 'audit_log'::regclass AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("second AppendAudit returned (%+v, %v) while an earlier append was uncommitted, want it to wait", r.e, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("second AppendAudit neither waited on the audit_log lock nor returned within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if list, err := db.AuditEntries(ctx, "", 10); err != nil || len(list) != 0 {
		t.Fatalf("AuditEntries while both appends are in flight: got %+v, %v, want none", list, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("second AppendAudit: got error %v, want nil", r.err)
	}
	list, err := db.AuditEntries(ctx, "", 10)
	if err != nil || len(list) != 2 || list[0].Action != "second" || list[1].Action != "first" {
		t.Fatalf("AuditEntries after both: got %+v, %v, want second then first", list, err)
	}
}
