package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/storetest"
)

var _ storetest.Store = (*DB)(nil)

func openTest(t *testing.T, path string) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(%s): got error %v, want nil", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: got error %v, want nil", err)
		}
	})
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return openTest(t, filepath.Join(t.TempDir(), "hub.db"))
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	a := chat.Account{User: chat.User{ID: chat.NewID("u_"), Username: "alice", Role: chat.RoleUser}, CreatedAt: chat.Now()}
	func() {
		ctx := t.Context()
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open: got error %v, want nil", err)
		}
		defer db.Close()
		if err := db.CreateAccount(ctx, a); err != nil {
			t.Fatalf("CreateAccount: got error %v, want nil", err)
		}
	}()
	db := openTest(t, path)
	got, err := db.Account(t.Context(), a.User.ID)
	if err != nil || got.User != a.User {
		t.Fatalf("Account after reopen: got %+v, %v, want %+v, nil", got.User, err, a.User)
	}
	var n int
	if err := db.r.QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	if n == 0 {
		t.Fatalf("schema_migrations rows: got 0, want at least 1")
	}
}

func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := Open(t.Context(), path)
			errs[i] = err
			if err == nil {
				db.Close()
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: got error %v, want nil", i, err)
		}
	}
}

func TestPragmas(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "hub.db"))
	ctx := t.Context()
	for _, tc := range []struct {
		pool   string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "5000"},
		{"read", "foreign_keys", "1"},
		{"read", "query_only", "1"},
		{"read", "busy_timeout", "5000"},
	} {
		pool := db.w
		if tc.pool == "read" {
			pool = db.r
		}
		var got string
		if err := pool.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("%s pool PRAGMA %s: got %q, want %q", tc.pool, tc.pragma, got, tc.want)
		}
	}
}

func TestOpenRejectsNonFilePaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if db, err := Open(t.Context(), p); err == nil {
			db.Close()
			t.Errorf("Open(%q): got nil error, want an error", p)
		}
	}
}
