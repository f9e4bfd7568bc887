// Package servertest starts real hubs on 127.0.0.1:0 for integration tests
// and gives tests a protocol client (HTTP and WebSocket) to drive them as a
// browser or bot would.
//
// Backends come from the environment like everywhere else in the tests:
// HUB_TEST_DATABASE_URL and HUB_TEST_NATS_URL select PostgreSQL and an
// external NATS server; without them a hub runs on its embedded defaults.
// Require* helpers skip a test that needs a service which is not
// configured, or fail it when HUB_TEST_REQUIRE_SERVICES=1.
package servertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/config"
	"github.com/pawfect/hub/internal/server"
)

// Secret is the JWT secret every test hub uses, so tests can craft tokens.
const Secret = "servertest-secret-0123456789abcdef-0123456789"

// Options shape a test hub. Zero values take the defaults.
type Options struct {
	DataDir     string            // default: a new temp dir
	DatabaseURL string            // default: embedded SQLite in DataDir
	NATSURL     string            // default: in-process NATS
	RedisURL    string            // default: in-process presence and rate limits
	Prefix      string            // NATS subject prefix; default: unique per call
	Env         map[string]string // further HUB_* settings
}

// Hub is one running test hub.
type Hub struct {
	URL     string
	DataDir string
	Server  *server.Server

	cancel context.CancelFunc
	done   chan error
	t      testing.TB
}

// Start builds and runs a hub; it is stopped (gracefully) at test cleanup
// unless the test stopped it first.
func Start(t testing.TB, o Options) *Hub {
	t.Helper()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Prefix == "" {
		o.Prefix = UniquePrefix()
	}
	env := map[string]string{
		"HUB_ADDR":                "127.0.0.1:0",
		"HUB_DATA_DIR":            o.DataDir,
		"HUB_DATABASE_URL":        o.DatabaseURL,
		"HUB_NATS_URL":            o.NATSURL,
		"HUB_REDIS_URL":           o.RedisURL,
		"HUB_NATS_SUBJECT_PREFIX": o.Prefix,
		"HUB_JWT_SECRET":          Secret,
		"HUB_BCRYPT_COST":         "10",
		"HUB_LOG_LEVEL":           "warn",
		"HUB_SHUTDOWN_TIMEOUT":    "10s",
		"HUB_REPAIR_INTERVAL":     "500ms",
	}
	for k, v := range o.Env {
		env[k] = v
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("servertest: config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, logger())
	if err != nil {
		cancel()
		t.Fatalf("servertest: start hub: %v", err)
	}
	h := &Hub{URL: srv.URL(), DataDir: o.DataDir, Server: srv, cancel: cancel, done: make(chan error, 1), t: t}
	go func() { h.done <- srv.Run(ctx) }()
	t.Cleanup(func() { h.Stop() })
	return h
}

// Remote returns a Hub for a hub this process did not start, such as one
// running as a separate process (internal/clustertest): the HTTP and
// WebSocket helpers work against url; Server is nil and Stop does nothing.
func Remote(url string) *Hub { return &Hub{URL: url} }

// Stop drains the hub and waits until it has stopped. It is safe to call
// more than once.
func (h *Hub) Stop() {
	if h.cancel == nil {
		return // stopped already, or a Remote hub
	}
	h.t.Helper()
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("servertest: hub stopped with error: %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Errorf("servertest: hub did not stop within 30s")
	}
}

// UniquePrefix returns a NATS subject prefix no other test uses, so tests
// sharing one NATS server never see each other's events.
func UniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

func logger() *slog.Logger {
	if os.Getenv("HUB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
