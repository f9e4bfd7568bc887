package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/migrate"
	"github.com/pawfect/hub/internal/store/postgres/pgtest"
	"github.com/pawfect/hub/internal/store/storetest"
)

var _ storetest.Store = (*DB)(nil)

func openTest(t *testing.T, url string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open: got error %v, want nil", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestContract(t *testing.T) {
	// Called once up front so that a missing server skips (or fails) this
	// test itself rather than reporting a pass made of skipped subtests.
	pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openTest(t, pgtest.URL(t))
	})
}

// Without the advisory lock, the second CREATE TABLE of a concurrent pair
// fails or a step is applied twice.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	url := pgtest.URL(t)
	const n = 4
	dbs := make([]*DB, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			dbs[i], errs[i] = Open(ctx, url)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: got error %v, want nil", i, err)
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if t.Failed() {
		return
	}
	steps, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var got int
	if err := dbs[0].pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&got); err != nil {
		t.Fatalf("count schema_migrations: %v", err)
	}
	if got != len(steps) {
		t.Fatalf("schema_migrations rows: got %d, want %d", got, len(steps))
	}
	// The lock must have been released, or this would hang.
	openTest(t, url)
}

func TestSchemaFollowsSearchPath(t *testing.T) {
	db := openTest(t, pgtest.URL(t))
	var schema string
	if err := db.pool.QueryRow(t.Context(),
		`SELECT table_schema FROM information_schema.tables WHERE table_name = 'messages' AND table_schema = current_schema()`).
		Scan(&schema); err != nil {
		t.Fatalf("messages table in current_schema(): got error %v, want it present", err)
	}
}

func TestOpenUnreachableIsUnavailable(t *testing.T) {
	// Port 1 on loopback refuses at once; connect_timeout covers hosts that
	// drop packets instead.
	const url = "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	db, err := Open(ctx, url)
	if err == nil {
		db.Close()
		t.Fatalf("Open(unreachable): got nil error, want chat.ErrUnavailable")
	}
	if !errors.Is(err, chat.ErrUnavailable) {
		t.Fatalf("Open(unreachable): got error %v, want one wrapping %v", err, chat.ErrUnavailable)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Open(unreachable) took %v, want under 5s", d)
	}
}
