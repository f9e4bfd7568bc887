package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// Decision is the answer to one Allow call.
type Decision struct {
	Allowed bool
	// RetryAfter is, when refused, how long until one more event would be
	// allowed; 0 when allowed.
	RetryAfter time.Duration
	// Remaining is how many more events would be allowed right now.
	Remaining int
}

// ErrBadLimit is wrapped when limit < 1 or window <= 0.
var ErrBadLimit = errors.New("limit and window must be positive")

const (
	shardCount             = 64
	DefaultJanitorInterval = time.Minute
)

// Memory is the in-process sliding-window limiter. Create it with NewMemory
// and stop it with Close.
type Memory struct {
	now      func() time.Time
	interval time.Duration
	seed     maphash.Seed
	shards   [shardCount]shard

	stop      chan struct{}  // closed by Close to stop the janitor
	done      sync.WaitGroup // the janitor goroutine
	closeOnce sync.Once
}

// shard holds the keys that hash to it.
type shard struct {
	mu   sync.Mutex           // guards keys and every *eventLog in it
	keys map[string]*eventLog // key → its allowed events
}

// eventLog is one key's allowed events, oldest first. Guarded by its
// shard's mu.
type eventLog struct {
	times  []time.Time   // allowed events still inside the last window used
	window time.Duration // the window of the latest call, for the janitor
}

// Option configures NewMemory and NewRedis.
type Option func(*options)

// options are the settings shared by the backends' constructors.
type options struct {
	now      func() time.Time
	interval time.Duration
}

func newOptions(opts []Option) options {
	o := options{now: time.Now, interval: DefaultJanitorInterval}
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// WithClock makes the limiter read time from now instead of time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithJanitorInterval sets how often Memory evicts idle keys (default
// DefaultJanitorInterval). Redis ignores it: its keys expire in Redis.
func WithJanitorInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.interval = d
		}
	}
}

// NewMemory returns a limiter and starts its janitor; call Close to stop it.
func NewMemory(opts ...Option) *Memory {
	o := newOptions(opts)
	m := &Memory{
		now:      o.now,
		interval: o.interval,
		seed:     maphash.MakeSeed(),
		stop:     make(chan struct{}),
	}
	for i := range m.shards {
		m.shards[i].keys = make(map[string]*eventLog)
	}
	m.done.Add(1)
	go m.janitor()
	return m
}

// Close stops the janitor and waits for it. It is safe to call more than once.
func (m *Memory) Close() {
	m.closeOnce.Do(func() { close(m.stop) })
	m.done.Wait()
}

// Allow decides whether key may have one more event now, given at most limit
// events per window; see the package doc for the exact semantics.
func (m *Memory) Allow(ctx context.Context, key string, limit int, window time.Duration) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("ratelimit: allow: %w", err)
	}
	if limit < 1 || window <= 0 {
		return Decision{}, fmt.Errorf("ratelimit: allow %q: limit %d, window %s: %w", key, limit, window, ErrBadLimit)
	}
	now := m.now()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	l := s.keys[key]
	if l == nil {
		l = &eventLog{}
		s.keys[key] = l
	}
	l.window = window
	l.expire(now)
	n := len(l.times)
	if n < limit {
		l.times = append(l.times, now)
		return Decision{Allowed: true, Remaining: limit - n - 1}, nil
	}
	// n-limit+1 events must expire for one more to fit; the last of them
	// is times[n-limit].
	return Decision{RetryAfter: l.times[n-limit].Add(window).Sub(now)}, nil
}

// expire drops the events that no longer count at now: those at or before
// now-window.
func (l *eventLog) expire(now time.Time) {
	i := 0
	for i < len(l.times) && !now.Before(l.times[i].Add(l.window)) {
		i++
	}
	if i > 0 {
		l.times = l.times[:copy(l.times, l.times[i:])]
	}
}

func (m *Memory) shard(key string) *shard {
	return &m.shards[maphash.String(m.seed, key)%shardCount]
}

func (m *Memory) janitor() {
	defer m.done.Done()
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sweep()
		}
	}
}

// sweep evicts every key with no event left inside its window.
func (m *Memory) sweep() {
	now := m.now()
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, l := range s.keys {
			l.expire(now)
			if len(l.times) == 0 {
				delete(s.keys, k)
			}
		}
		s.mu.Unlock()
	}
}

// size counts the keys held, for tests.
func (m *Memory) size() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}
