// Package pgtest gives tests a PostgreSQL database of their own: each URL
// call creates a fresh schema and returns a connection URL whose
// search_path points at it, so tests in any package can run in parallel
// against one server without seeing each other's tables.
//
// The server comes from HUB_TEST_DATABASE_URL. Without it the calling test
// is skipped, unless HUB_TEST_REQUIRE_SERVICES=1, where a missing server is
// a failure: CI sets that so a misconfigured job cannot pass by skipping.
//
// It is safe for concurrent use; it keeps no state between calls.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by URL.
const (
	EnvURL     = "HUB_TEST_DATABASE_URL"
	EnvRequire = "HUB_TEST_REQUIRE_SERVICES"
)

// setupTimeout bounds schema creation and removal, so an unreachable
// server fails the test instead of hanging it.
const setupTimeout = 30 * time.Second

// URL returns a connection URL for a new, empty schema named
// hubtest_<random>, dropped with everything in it when t's cleanup runs
// (after any cleanup registered later, such as closing a store opened on
// it).
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("pgtest: %s is not set but %s=1 requires PostgreSQL", EnvURL, EnvRequire)
		}
		t.Skipf("pgtest: %s is not set; skipping PostgreSQL test", EnvURL)
	}

	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "hubtest_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()

	exec(t, base, "CREATE SCHEMA "+ident)
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA IF EXISTS "+ident+" CASCADE") })
	return withSearchPath(base, schema)
}

// exec runs one statement on a short-lived connection of its own, so the
// caller's pools never see the setup.
func exec(t testing.TB, base, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// withSearchPath sets search_path in either connection string form pgx
// accepts; pgx sends it as a startup parameter, so it holds for every
// connection of a pool.
func withSearchPath(base, schema string) string {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return base + " search_path=" + schema
}
