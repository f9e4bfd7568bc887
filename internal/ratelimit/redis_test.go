package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pawfect/hub/internal/ratelimit"
	"github.com/pawfect/hub/internal/ratelimit/ratelimittest"
)

// redisForTest returns a client of the Redis named by HUB_TEST_REDIS_URL and
// a key prefix no other test uses; every key under the prefix is deleted and
// the client closed at cleanup. Without the variable the test is skipped,
// or fails under HUB_TEST_REQUIRE_SERVICES=1.
func redisForTest(t *testing.T) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(redisURL(t))
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
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "rltest" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean up %s:*: %v", prefix, err)
		}
		_ = client.Close()
	})
	return client, prefix
}

// redisURL returns HUB_TEST_REDIS_URL, or skips the test (fails it under
// HUB_TEST_REQUIRE_SERVICES=1) when it is not set.
func redisURL(t *testing.T) string {
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

func TestRedis(t *testing.T) {
	redisURL(t)
	ratelimittest.Run(t, func(t *testing.T, clock *ratelimittest.Clock) ratelimittest.L {
		client, prefix := redisForTest(t)
		return ratelimit.NewRedis(client, prefix, ratelimit.WithClock(clock.Now))
	})
}

// TestRedisSharedAndPrefixed: two limiters on one prefix (two hubs) share
// a budget; another prefix has its own.
func TestRedisSharedAndPrefixed(t *testing.T) {
	client, prefix := redisForTest(t)
	clock := ratelimittest.NewClock()
	a := ratelimit.NewRedis(client, prefix, ratelimit.WithClock(clock.Now))
	b := ratelimit.NewRedis(client, prefix, ratelimit.WithClock(clock.Now))
	other := ratelimit.NewRedis(client, prefix+"x", ratelimit.WithClock(clock.Now))
	t.Cleanup(func() { client.Del(context.Background(), prefix+"x:ratelimit:k") })
	ctx := context.Background()
	steps := []struct {
		name string
		l    *ratelimit.Redis
		want bool
	}{
		{"a 1", a, true}, {"b 2", b, true}, {"a 3", a, true},
		{"b over", b, false}, {"a over", a, false}, {"other prefix", other, true},
	}
	for _, s := range steps {
		d, err := s.l.Allow(ctx, "k", 3, time.Minute)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if d.Allowed != s.want {
			t.Fatalf("%s: got %+v, want allowed=%v", s.name, d, s.want)
		}
	}
}

// TestRedisKeyExpires: a key's sorted set carries a TTL of about its window,
// so idle keys leave Redis without a janitor.
func TestRedisKeyExpires(t *testing.T) {
	client, prefix := redisForTest(t)
	l := ratelimit.NewRedis(client, prefix)
	ctx := context.Background()
	if _, err := l.Allow(ctx, "k", 5, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	ttl, err := client.PTTL(ctx, prefix+":ratelimit:k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl < 9*time.Second || ttl > 12*time.Second {
		t.Fatalf("TTL of the key: got %s, want about 10s (+1s slack)", ttl)
	}
}

func TestRedisUnreachable(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	l := ratelimit.NewRedis(client, "x")
	d, err := l.Allow(context.Background(), "k", 1, time.Second)
	if err == nil || d.Allowed {
		t.Fatalf("got %+v, %v; want an error and no permission", d, err)
	}
}
