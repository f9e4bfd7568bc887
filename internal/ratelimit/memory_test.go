package ratelimit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The shared suite runs from memory_suite_test.go (package ratelimit_test),
// so that ratelimittest may import this package.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a manual clock (ratelimittest.Clock cannot be imported here:
// it imports this package).
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestJanitorEvictsIdleKeys(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	m := NewMemory(WithClock(clock.Now), WithJanitorInterval(time.Hour))
	defer m.Close()
	ctx := context.Background()

	steps := []struct {
		name    string
		advance time.Duration
		allow   []string // keys to hit, each with a 10s window
		want    int      // keys held after a sweep
	}{
		{name: "fresh keys stay", allow: []string{"a", "b", "c"}, want: 3},
		{name: "still inside window", advance: 9 * time.Second, want: 3},
		{name: "one refreshed", allow: []string{"a"}, want: 3},
		{name: "old ones expire", advance: time.Second, want: 1},
		{name: "all gone", advance: 9 * time.Second, want: 0},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		for _, k := range s.allow {
			if _, err := m.Allow(ctx, k, 5, 10*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		m.sweep()
		if got := m.size(); got != s.want {
			t.Fatalf("%s: got %d keys, want %d", s.name, got, s.want)
		}
	}
}

func TestJanitorRuns(t *testing.T) {
	m := NewMemory(WithJanitorInterval(5 * time.Millisecond))
	defer m.Close()
	if _, err := m.Allow(context.Background(), "k", 1, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.size() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("janitor did not evict an expired key")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCloseIdempotentAndAllowAfterClose(t *testing.T) {
	m := NewMemory()
	m.Close()
	m.Close()
	d, err := m.Allow(context.Background(), "k", 1, time.Second)
	if err != nil || !d.Allowed {
		t.Fatalf("Allow after Close: got %+v, %v; want allowed", d, err)
	}
}

func TestAllowErrors(t *testing.T) {
	m := NewMemory()
	defer m.Close()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		limit  int
		window time.Duration
		want   error
	}{
		{"cancelled", cancelled, 1, time.Second, context.Canceled},
		{"bad limit", context.Background(), 0, time.Second, ErrBadLimit},
	}
	for _, tt := range tests {
		_, err := m.Allow(tt.ctx, "k", tt.limit, tt.window)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "ratelimit: allow") {
			t.Errorf("%s: error %q lacks the op prefix", tt.name, err)
		}
	}
}
