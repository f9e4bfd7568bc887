package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pawfect/hub/internal/ratelimit"
	"github.com/pawfect/hub/internal/ratelimit/ratelimittest"
	"github.com/pawfect/hub/internal/redistest"
)

func TestRedis(t *testing.T) {
	redistest.URL(t)
	ratelimittest.Run(t, func(t *testing.T, clock *ratelimittest.Clock) ratelimittest.L {
		client, prefix := redistest.Client(t, "rltest")
		return ratelimit.NewRedis(client, prefix, ratelimit.WithClock(clock.Now))
	})
}

// TestRedisSharedAndPrefixed: two limiters on one prefix (two hubs) share
// a budget; another prefix has its own.
func TestRedisSharedAndPrefixed(t *testing.T) {
	client, prefix := redistest.Client(t, "rltest")
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
	client, prefix := redistest.Client(t, "rltest")
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
