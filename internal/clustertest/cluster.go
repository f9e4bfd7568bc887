package clustertest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/redistest"
	"github.com/pawfect/hub/internal/server/servertest"
	"github.com/pawfect/hub/internal/store/postgres/pgtest"
)

// Credentials every cluster shares.
const (
	// Secret is every hub's HUB_JWT_SECRET (servertest's, so tokens can be
	// crafted the same way in both kinds of tests).
	Secret = servertest.Secret
	// AdminName and AdminPassword are the HUB_BOOTSTRAP_ADMIN account.
	AdminName     = "admin"
	AdminPassword = "clustertest admin password"
)

// Options shape a cluster. Zero values take the defaults.
type Options struct {
	// Hubs is the number of hub processes; default 3.
	Hubs int
	// DatabaseURL is the PostgreSQL every hub uses; default a fresh schema
	// on HUB_TEST_DATABASE_URL (pgtest), dropped at cleanup.
	DatabaseURL string
	// NATSURL is the NATS server every hub uses; default HUB_TEST_NATS_URL.
	NATSURL string
	// RedisURL is the Redis every hub uses; default HUB_TEST_REDIS_URL.
	// The hubs' keys live under Prefix and are deleted at cleanup.
	RedisURL string
	// Prefix is the NATS subject prefix (and so the Redis key prefix);
	// default a new unique one, so clusters sharing servers never meet.
	Prefix string
	// Env holds further HUB_* settings for every hub; they win over the
	// harness's.
	Env map[string]string
}

// Cluster is a set of hub processes that form one service.
type Cluster struct {
	Prefix string
	hubs   []*Hub
	sfus   []*Hub // cmd/sfu nodes (StartSFU)
	opts   Options
	dir    string
}

// Start builds the hub binary (once per test binary), starts o.Hubs hubs
// and waits until each answers /readyz with 200. Every process is killed
// and reaped at cleanup; when the test failed, each hub's log is printed.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Hubs <= 0 {
		o.Hubs = 3
	}
	if o.NATSURL == "" {
		o.NATSURL = servertest.RequireNATS(t)
	}
	if o.RedisURL == "" {
		o.RedisURL = redistest.URL(t)
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = pgtest.URL(t)
	}
	if o.Prefix == "" {
		o.Prefix = servertest.UniquePrefix()
	}
	redistest.Clean(t, o.RedisURL, o.Prefix)
	bin := hubPath(t)

	dir := t.TempDir()
	c := &Cluster{Prefix: o.Prefix, opts: o, dir: dir}
	// Registered before any process starts, so it runs (LIFO) before the
	// cleanups of the services the hubs use.
	t.Cleanup(func() { c.cleanup(t) })
	start := time.Now()
	for i := range o.Hubs {
		h := &Hub{
			Index:   i,
			NodeID:  fmt.Sprintf("hub%d-%s", i, o.Prefix),
			DataDir: filepath.Join(dir, fmt.Sprintf("hub%d", i)),
			LogPath: filepath.Join(dir, fmt.Sprintf("hub%d.log", i)),
			bin:     bin,
		}
		c.hubs = append(c.hubs, h)
		if err := h.launchOnFreePort(o); err != nil {
			t.Fatalf("clustertest: %v", err)
		}
	}
	// The hubs start up side by side; one whose port was taken in the
	// meantime gets another.
	for _, h := range c.hubs {
		err := h.waitReady(ReadyTimeout)
		for retry := 0; err != nil && h.addressInUse() && retry < 3; retry++ {
			h.signal(syscall.SIGKILL, stopTimeout)
			_ = os.Truncate(h.LogPath, 0) // a port clash is no news for the log
			if err = h.launchOnFreePort(o); err == nil {
				err = h.waitReady(ReadyTimeout)
			}
		}
		if err != nil {
			t.Fatalf("clustertest: %v", err)
		}
	}
	t.Logf("clustertest: %d hubs ready in %v (prefix %s): %v", len(c.hubs), time.Since(start).Round(time.Millisecond), c.Prefix, c.URLs())
	return c
}

// launchOnFreePort picks a port for h and launches it there.
func (h *Hub) launchOnFreePort(o Options) error {
	port, err := freePort()
	if err != nil {
		return fmt.Errorf("pick a port for hub%d: %w", h.Index, err)
	}
	h.Addr = loopback(port)
	h.URL = "http://" + h.Addr
	h.env = hubEnv(h, o)
	return h.launch()
}

// hubEnv is the process environment of h: the test's own without any
// HUB_* variable (a developer's exported settings must not leak in), then
// the cluster's settings, then o.Env.
func hubEnv(h *Hub, o Options) []string {
	vars := map[string]string{
		"HUB_ADDR":                h.Addr,
		"HUB_NODE_ID":             h.NodeID,
		"HUB_DATA_DIR":            h.DataDir,
		"HUB_DATABASE_URL":        o.DatabaseURL,
		"HUB_NATS_URL":            o.NATSURL,
		"HUB_REDIS_URL":           o.RedisURL,
		"HUB_NATS_SUBJECT_PREFIX": o.Prefix,
		"HUB_JWT_SECRET":          Secret,
		"HUB_BOOTSTRAP_ADMIN":     AdminName + ":" + AdminPassword,
		"HUB_BCRYPT_COST":         "10",
		"HUB_LOG_LEVEL":           "info",
		"HUB_SHUTDOWN_TIMEOUT":    "10s",
	}
	for k, v := range o.Env {
		vars[k] = v
	}
	return envWith(vars)
}

// envWith is the test's environment without any HUB_* variable (a
// developer's exported settings must not leak in), then vars in name order.
func envWith(vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUB_") {
			env = append(env, kv)
		}
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// Len is the number of hubs.
func (c *Cluster) Len() int { return len(c.hubs) }

// Hub returns hub i.
func (c *Cluster) Hub(i int) *Hub { return c.hubs[i] }

// URL is hub i's base URL; it is the same across restarts. Safe to call
// from any goroutine.
func (c *Cluster) URL(i int) string { return c.hubs[i].URL }

// URLs lists every hub's base URL, in order.
func (c *Cluster) URLs() []string {
	out := make([]string, len(c.hubs))
	for i, h := range c.hubs {
		out[i] = h.URL
	}
	return out
}

// API returns servertest's HTTP and WebSocket helpers (Register, Dial,
// CreateRoom…) for hub i.
func (c *Cluster) API(i int) *servertest.Hub { return servertest.Remote(c.hubs[i].URL) }

// Stop stops hub i gracefully (SIGTERM: it drains, closing WebSockets with
// 1001) and waits for it to exit; a hub that exits with an error or must be
// killed fails the test.
func (c *Cluster) Stop(t testing.TB, i int) {
	t.Helper()
	h := c.hubs[i]
	if !h.Running() {
		t.Fatalf("clustertest: stop hub%d: not running", i)
	}
	err, forced := h.signal(syscall.SIGTERM, stopTimeout)
	switch {
	case forced:
		t.Errorf("clustertest: hub%d did not stop within %v of SIGTERM; killed it", i, stopTimeout)
	case err != nil:
		t.Errorf("clustertest: hub%d stopped with %v; want exit 0", i, err)
	}
}

// Kill kills hub i with SIGKILL (no drain, no goodbye to anyone) and waits
// until it is reaped.
func (c *Cluster) Kill(t testing.TB, i int) {
	t.Helper()
	h := c.hubs[i]
	if !h.Running() {
		t.Fatalf("clustertest: kill hub%d: not running", i)
	}
	if err, _ := h.signal(syscall.SIGKILL, stopTimeout); err != nil && !isSignaled(err, syscall.SIGKILL) {
		t.Errorf("clustertest: hub%d ended with %v before SIGKILL reached it", i, err)
	}
}

// Restart starts hub i again, on the same address, node ID and data
// directory, and waits for its /readyz; a hub still running is stopped
// gracefully first.
func (c *Cluster) Restart(t testing.TB, i int) {
	t.Helper()
	h := c.hubs[i]
	if h.Running() {
		c.Stop(t, i)
	}
	if err := h.start(); err != nil {
		t.Fatalf("clustertest: restart: %v", err)
	}
}

// cleanup kills every hub still running, then reports data races found in
// the logs and, if the test failed, prints the logs.
func (c *Cluster) cleanup(t testing.TB) {
	all := append(append([]*Hub(nil), c.hubs...), c.sfus...)
	for _, h := range all {
		if h.Running() {
			h.signal(syscall.SIGKILL, stopTimeout)
		}
	}
	for _, h := range all {
		b, err := os.ReadFile(h.LogPath)
		if err != nil {
			continue // never started
		}
		if bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			t.Errorf("clustertest: %s reported a data race (log below)", h.label())
		}
		if t.Failed() {
			t.Logf("clustertest: log of %s (node %s, %s):\n%s", h.label(), h.NodeID, h.Addr, tail(b, logTail))
		}
	}
}

// logTail is how much of each hub's log a failure prints.
const logTail = 64 << 10

// tail returns the last n bytes of b, starting at a line.
func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[len(b)-n:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return append([]byte("[…]\n"), b...)
}
