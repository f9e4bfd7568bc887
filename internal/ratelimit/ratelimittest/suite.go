// Package ratelimittest is the contract test suite every rate limiter
// backend passes. The suite drives time itself through a Clock the backend
// must read instead of the wall clock.
package ratelimittest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/ratelimit"
)

// L is the method set of a limiter backend.
type L interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ratelimit.Decision, error)
}

// Clock is a manual clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// NewClock returns a clock standing at a fixed, whole-millisecond instant (so
// backends that keep milliseconds lose nothing).
func NewClock() *Clock {
	return &Clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Run runs the whole suite. newL must return a fresh limiter (or one with
// keys of its own) that reads time from clock.Now.
func Run(t *testing.T, newL func(t *testing.T, clock *Clock) L) {
	t.Run("Scripted", func(t *testing.T) { testScripted(t, newL) })
	t.Run("BadArguments", func(t *testing.T) { testBadArguments(t, newL) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newL) })
}

// call is one step of a scenario: advance the clock, call Allow, compare.
type call struct {
	advance time.Duration
	key     string // "k" when empty
	limit   int    // 3 when 0
	window  time.Duration
	want    ratelimit.Decision
}

func ok(remaining int) ratelimit.Decision {
	return ratelimit.Decision{Allowed: true, Remaining: remaining}
}

func refused(retry time.Duration) ratelimit.Decision {
	return ratelimit.Decision{RetryAfter: retry}
}

func testScripted(t *testing.T, newL func(t *testing.T, clock *Clock) L) {
	const w = 10 * time.Second
	tests := []struct {
		name  string
		calls []call
	}{
		{
			name:  "under limit counts down",
			calls: []call{{want: ok(2)}, {want: ok(1)}, {want: ok(0)}},
		},
		{
			name: "at limit refused with RetryAfter to the oldest expiring",
			calls: []call{
				{want: ok(2)},
				{advance: time.Second, want: ok(1)},
				{advance: time.Second, want: ok(0)},
				{advance: 3 * time.Second, want: refused(5 * time.Second)},
			},
		},
		{
			name: "refused calls record nothing",
			calls: []call{
				{want: ok(2)}, {want: ok(1)}, {want: ok(0)},
				{advance: 2 * time.Second, want: refused(8 * time.Second)},
				{advance: 7 * time.Second, want: refused(time.Second)},
				{advance: time.Second - time.Millisecond, want: refused(time.Millisecond)},
				{advance: time.Millisecond, want: ok(2)}, // exactly RetryAfter later: all three left at once
			},
		},
		{
			name: "window slides one event at a time",
			calls: []call{
				{want: ok(2)},                                          // t=0
				{advance: 4 * time.Second, want: ok(1)},                // t=4
				{advance: 4 * time.Second, want: ok(0)},                // t=8
				{advance: time.Second, want: refused(time.Second)},     // t=9: t=0 expires at 10
				{advance: time.Second, want: ok(0)},                    // t=10: t=0 gone
				{advance: time.Second, want: refused(3 * time.Second)}, // t=11: t=4 expires at 14
				{advance: 3 * time.Second, want: ok(0)},                // t=14
			},
		},
		{
			name: "whole window passes: full budget again",
			calls: []call{
				{want: ok(2)}, {want: ok(1)}, {want: ok(0)},
				{advance: w, want: ok(2)},
			},
		},
		{
			name: "at most limit in any window, never limit+1",
			calls: []call{
				{want: ok(2)},
				{advance: 9 * time.Second, want: ok(1)},
				{want: ok(0)},
				{advance: 999 * time.Millisecond, want: refused(time.Millisecond)}, // t=9.999
				{advance: time.Millisecond, want: ok(0)},                           // t=10: first left
				{advance: 8 * time.Second, want: refused(time.Second)},             // t=18: next leaves at 19
			},
		},
		{
			name: "keys are independent",
			calls: []call{
				{key: "a", want: ok(2)}, {key: "a", want: ok(1)}, {key: "a", want: ok(0)},
				{key: "a", want: refused(w)},
				{key: "b", want: ok(2)},
				{key: "a:b", want: ok(2)},
				{key: "b", want: ok(1)},
			},
		},
		{
			name: "limit one",
			calls: []call{
				{limit: 1, want: ok(0)},
				{limit: 1, advance: 4 * time.Second, want: refused(6 * time.Second)},
				{limit: 1, advance: 6 * time.Second, want: ok(0)},
			},
		},
		{
			name: "lowered limit waits for enough events to expire",
			calls: []call{
				{limit: 3, want: ok(2)},
				{limit: 3, advance: time.Second, want: ok(1)},
				{limit: 3, advance: time.Second, want: ok(0)},
				// 3 events at 0,1,2; with limit 2, two must go: the one at 1 leaves at 11.
				{limit: 2, advance: time.Second, want: refused(8 * time.Second)},
				{limit: 2, advance: 8 * time.Second, want: ok(0)},
			},
		},
		{
			name: "raised limit allows more at once",
			calls: []call{
				{limit: 1, want: ok(0)},
				{limit: 1, want: refused(w)},
				{limit: 3, want: ok(1)},
			},
		},
		{
			name: "short window",
			calls: []call{
				{limit: 2, window: 100 * time.Millisecond, want: ok(1)},
				{limit: 2, window: 100 * time.Millisecond, want: ok(0)},
				{limit: 2, window: 100 * time.Millisecond, advance: 40 * time.Millisecond, want: refused(60 * time.Millisecond)},
				{limit: 2, window: 100 * time.Millisecond, advance: 60 * time.Millisecond, want: ok(1)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			l := newL(t, clock)
			for i, c := range tt.calls {
				if c.key == "" {
					c.key = "k"
				}
				if c.limit == 0 {
					c.limit = 3
				}
				if c.window == 0 {
					c.window = w
				}
				clock.Advance(c.advance)
				got, err := l.Allow(context.Background(), c.key, c.limit, c.window)
				if err != nil {
					t.Fatalf("call %d: Allow: %v", i, err)
				}
				if got != c.want {
					t.Fatalf("call %d (key %q, %d/%s, after +%s): got %+v, want %+v", i, c.key, c.limit, c.window, c.advance, got, c.want)
				}
			}
		})
	}
}

func testBadArguments(t *testing.T, newL func(t *testing.T, clock *Clock) L) {
	l := newL(t, NewClock())
	tests := []struct {
		name   string
		limit  int
		window time.Duration
	}{
		{"zero limit", 0, time.Second},
		{"negative limit", -1, time.Second},
		{"zero window", 1, 0},
		{"negative window", 1, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := l.Allow(context.Background(), "k", tt.limit, tt.window)
			if !errors.Is(err, ratelimit.ErrBadLimit) {
				t.Fatalf("got %+v, %v; want ratelimit.ErrBadLimit", d, err)
			}
			if d.Allowed {
				t.Fatal("got Allowed with an error")
			}
		})
	}
}

// testConcurrent: many goroutines on one key at one instant; exactly limit
// are allowed, and every refusal waits the whole window.
func testConcurrent(t *testing.T, newL func(t *testing.T, clock *Clock) L) {
	tests := []struct {
		name       string
		goroutines int
		perG       int
		limit      int
	}{
		{"more callers than limit", 64, 4, 50},
		{"limit one", 32, 2, 1},
		{"limit above demand", 16, 2, 100},
	}
	const window = time.Minute
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock()
			l := newL(t, clock)
			var allowed, refusedN atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, tt.goroutines*tt.perG)
			for range tt.goroutines {
				wg.Go(func() {
					for range tt.perG {
						d, err := l.Allow(context.Background(), "shared", tt.limit, window)
						switch {
						case err != nil:
							errs <- err
						case d.Allowed:
							allowed.Add(1)
						default:
							refusedN.Add(1)
							if d.RetryAfter != window {
								errs <- fmt.Errorf("RetryAfter %s, want %s", d.RetryAfter, window)
							}
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			total := tt.goroutines * tt.perG
			want := min(tt.limit, total)
			if got := allowed.Load(); got != int64(want) {
				t.Fatalf("allowed %d of %d, want exactly %d", got, total, want)
			}
			if got := refusedN.Load(); got != int64(total-want) {
				t.Fatalf("refused %d, want %d", got, total-want)
			}
		})
	}
}
