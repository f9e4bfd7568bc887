// Package redistest gives tests the Redis named by HUB_TEST_REDIS_URL and a
// key prefix of their own, deleted at cleanup, so tests in any package can
// share one server. Without the variable the calling test is skipped,
// unless HUB_TEST_REQUIRE_SERVICES=1 (set by CI), where it fails.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// URL returns HUB_TEST_REDIS_URL, or skips/fails the test as above.
func URL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv("HUB_TEST_REDIS_URL")
	if raw == "" {
		if os.Getenv("HUB_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("HUB_TEST_REDIS_URL is not set but HUB_TEST_REQUIRE_SERVICES=1: this test needs Redis")
		}
		t.Skip("HUB_TEST_REDIS_URL is not set: skipping a test that needs Redis")
	}
	return raw
}

// Client returns a pinged client of the test Redis and a fresh key prefix
// starting with name. At cleanup (after cleanups registered later, such as
// closing what was built on the client) the prefix's keys are deleted and
// the client closed.
func Client(t testing.TB, name string) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(URL(t))
	if err != nil {
		t.Fatalf("HUB_TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		t.Fatalf("HUB_TEST_REDIS_URL: ping: %v", err)
	}
	prefix := Prefix(name)
	t.Cleanup(func() {
		deleteKeys(t, client, prefix)
		_ = client.Close()
	})
	return client, prefix
}

// Prefix returns a key prefix no other test uses.
func Prefix(name string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return name + hex.EncodeToString(b[:])
}

// Clean deletes every key under prefix of the Redis at url at cleanup, for
// tests whose hubs make their own clients.
func Clean(t testing.TB, url, prefix string) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("HUB_TEST_REDIS_URL: %v", err)
	}
	t.Cleanup(func() {
		client := redis.NewClient(opts)
		defer client.Close()
		deleteKeys(t, client, prefix)
	})
}

func deleteKeys(t testing.TB, client *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		client.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("clean up Redis keys %s:*: %v", prefix, err)
	}
}
