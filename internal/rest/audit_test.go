package rest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/sqlite"
)

func TestAuditLimit(t *testing.T) {
	tests := []struct {
		in   string
		want int
		bad  bool
	}{
		{"", 50, false},
		{"1", 1, false},
		{"50", 50, false},
		{"200", 200, false},
		{"201", 200, false},
		{"99999999999999999999", 200, false},
		{"0", 0, true},
		{"-1", 0, true},
		{"+1", 0, true},
		{" 1", 0, true},
		{"1.5", 0, true},
		{"abc", 0, true},
	}
	for _, tt := range tests {
		got, err := auditLimit(tt.in)
		if tt.bad {
			e := chat.AsError(err)
			if err == nil || e.Code != chat.CodeBadRequest || !strings.HasPrefix(e.Message, "limit:") {
				t.Errorf("auditLimit(%q): got %d, %v, want a bad_request naming limit", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("auditLimit(%q): got %d, %v, want %d, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestAuditTarget(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	got := auditTarget(long)
	if len(got) > maxAuditTarget || !strings.HasPrefix(long, got) || len(got) != 64 {
		t.Fatalf("auditTarget(80 bytes of é): got %d bytes %q, want the first 64 bytes, whole runes", len(got), got)
	}
	if got := auditTarget("alice"); got != "alice" {
		t.Fatalf("auditTarget(alice): got %q, want it unchanged", got)
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func openSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRecordFailureDoesNotFailTheRequest: with an audit log that cannot
// be written (a closed store), audited actions still succeed and the
// failure is logged.
func TestRecordFailureDoesNotFailTheRequest(t *testing.T) {
	accounts := openSQLite(t)
	broken := openSQLite(t)
	broken.Close()
	svc, err := auth.New(accounts, auth.Options{Secret: []byte(strings.Repeat("s", 32)), BcryptCost: auth.MinBcryptCost})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	var logs syncBuffer
	a := New(Deps{Auth: svc, Audit: broken, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	if status, body := call(t, srv, "POST", "/api/auth/register", "", `{"username":"alice","password":"correct horse"}`); status != http.StatusCreated {
		t.Fatalf("register with a broken audit log: got %d %v, want 201", status, body)
	}
	if status, body := call(t, srv, "POST", "/api/auth/login", "", `{"username":"alice","password":"wrong horse"}`); status != http.StatusUnauthorized {
		t.Fatalf("failed login with a broken audit log: got %d %v, want 401", status, body)
	}
	out := logs.String()
	for _, want := range []string{"audit: entry not recorded", "action=auth.register", "action=auth.login_failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log: got %q, want it to contain %q", out, want)
		}
	}
}

// TestNoAuditLog: without an audit log the actions work and the endpoint
// does not exist.
func TestNoAuditLog(t *testing.T) {
	db := openSQLite(t)
	svc, err := auth.New(db, auth.Options{Secret: []byte(strings.Repeat("s", 32)), BcryptCost: auth.MinBcryptCost})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	admin, err := svc.EnsureAdmin(t.Context(), "root", "supersecret1")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Issue(admin)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(Deps{Auth: svc}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if status, body := call(t, srv, "POST", "/api/auth/register", "", `{"username":"alice","password":"correct horse"}`); status != http.StatusCreated {
		t.Fatalf("register without an audit log: got %d %v, want 201", status, body)
	}
	status, body := call(t, srv, "GET", "/api/admin/audit", tok.Token, "")
	if code, _ := errCode(body); status != http.StatusNotFound || code != "not_found" {
		t.Fatalf("GET /api/admin/audit without an audit log: got %d %v, want 404 not_found", status, body)
	}
}
