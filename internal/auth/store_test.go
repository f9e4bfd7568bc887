package auth_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/store/sqlite"
)

// Both store backends satisfy Accounts (server asserts it for postgres too).
var _ auth.Accounts = (*sqlite.DB)(nil)

// newStore opens a fresh SQLite store in a temporary directory, closed when
// the test ends.
func newStore(t *testing.T) auth.Accounts {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: got error %v, want nil", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return db
}
