package rooms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/presence"
	"github.com/pawfect/hub/internal/ratelimit"
	"github.com/pawfect/hub/internal/store/sqlite"
)

// wait bounds every wait for a delivery.
const wait = 10 * time.Second

// noRepair is a repair interval no test outlives: only the bus path and
// explicit RepairAll calls deliver.
const noRepair = time.Hour

// testBus gives the service the embedded bus in the shape it declares, as
// the server's busAdapter does.
type testBus struct{ *bus.Bus }

func (b testBus) Subscribe(subject string, fn func([]byte)) (Subscription, error) {
	return b.Bus.Subscribe(subject, fn)
}

func (b testBus) Flush(ctx context.Context) error { return b.Bus.Ping(ctx) }

// testLimiter gives the service the in-memory limiter in its shape.
type testLimiter struct{ *ratelimit.Memory }

func (l testLimiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	d, err := l.Memory.Allow(ctx, key, limit, window)
	return d.Allowed, d.RetryAfter, err
}

// countingMetrics records the counters the repair tests assert on.
type countingMetrics struct {
	gapRepaired atomic.Int64
}

func (*countingMetrics) MessageStored(time.Duration) {}
func (*countingMetrics) EventsDelivered(int)         {}
func (*countingMetrics) PublishFailed()              {}
func (m *countingMetrics) GapRepaired(n int)         { m.gapRepaired.Add(int64(n)) }
func (*countingMetrics) RoomsActive(int)             {}

// fakeConn stands for a client: it records, in arrival order, the seqs of
// the messages in its join replies and of the message events delivered
// to it.
type fakeConn struct {
	id   string
	user chat.User

	mu         sync.Mutex // guards everything below
	seqs       []int64    // join reply messages and message events, as they arrived
	overflowed bool
	changed    chan struct{} // closed and replaced on every change
}

func newFakeConn(u chat.User) *fakeConn {
	return &fakeConn{id: chat.NewID("c_"), user: u, changed: make(chan struct{})}
}

func (c *fakeConn) ID() string      { return c.id }
func (c *fakeConn) User() chat.User { return c.user }

func (c *fakeConn) Deliver(frame []byte) {
	var ev chat.MessageEvent
	err := json.Unmarshal(frame, &ev)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && ev.Type == chat.EventMessage {
		c.seqs = append(c.seqs, ev.Message.Seq)
	}
	c.wakeLocked()
}

func (c *fakeConn) Removed(string) {}

func (c *fakeConn) Overflowed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.overflowed = true
	c.wakeLocked()
}

// replied records a join reply's messages; Join calls it with the room's
// connection set locked, exactly where a real connection enqueues it.
func (c *fakeConn) replied(msgs []chat.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.seqs = append(c.seqs, m.Seq)
	}
	c.wakeLocked()
}

func (c *fakeConn) wakeLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *fakeConn) received() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seqs)
}

// waitUntil blocks until cond holds for the received seqs, or reports false
// when wait passes or the connection overflowed.
func (c *fakeConn) waitUntil(cond func(seqs []int64) bool) bool {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, over, ch := cond(c.seqs), c.overflowed, c.changed
		c.mu.Unlock()
		if ok {
			return true
		}
		if over {
			return false
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// waitFor waits until the connection received seq, failing the test
// otherwise.
func (c *fakeConn) waitFor(t *testing.T, seq int64) {
	t.Helper()
	if !c.waitUntil(func(s []int64) bool { return slices.Contains(s, seq) }) {
		t.Fatalf("seq %d not received within %v: got seqs %v (overflowed %v)", seq, wait, c.received(), c.overflowedNow())
	}
}

func (c *fakeConn) overflowedNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overflowed
}

// fixture is a Service on real embedded backends with one user and one
// public room.
type fixture struct {
	svc     *Service
	db      *sqlite.DB
	bus     *bus.Bus
	metrics *countingMetrics
	alice   chat.User
	room    chat.Room
}

func newFixture(t *testing.T, repairInterval time.Duration) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close sqlite: %v", err)
		}
	})
	var p [6]byte
	_, _ = rand.Read(p[:])
	log := slog.New(slog.DiscardHandler)
	b, err := bus.Open(ctx, bus.Options{Prefix: "t" + hex.EncodeToString(p[:]), Logger: log})
	if err != nil {
		t.Fatalf("open bus: %v", err)
	}
	t.Cleanup(b.Close)
	lim := ratelimit.NewMemory()
	t.Cleanup(lim.Close)

	f := &fixture{db: db, bus: b, metrics: &countingMetrics{}}
	f.svc = New(Config{SendLimit: 1 << 30, SendWindow: time.Second, RepairInterval: repairInterval}, Deps{
		Store: db, Bus: testBus{b}, Presence: presence.NewMemory("n1"),
		Limiter: testLimiter{lim}, Metrics: f.metrics, Logger: log,
	})
	t.Cleanup(f.svc.Close) // runs first: before the bus and store close

	f.alice = chat.User{ID: chat.NewID("u_"), Username: "alice", DisplayName: "Alice", Role: chat.RoleUser}
	if err := db.CreateAccount(ctx, chat.Account{User: f.alice, CreatedAt: chat.Now()}); err != nil {
		t.Fatalf("create account: %v", err)
	}
	f.room = chat.Room{ID: chat.NewID("r_"), Name: "repair", Kind: chat.KindPublic, CreatedBy: f.alice.ID, CreatedAt: chat.Now()}
	if err := db.CreateRoom(ctx, f.room, f.alice.ID, nil, ""); err != nil {
		t.Fatalf("create room: %v", err)
	}
	return f
}

// join joins c to the fixture's room, recording the reply's messages on c.
func (f *fixture) join(t *testing.T, c *fakeConn, since *int64) JoinResult {
	t.Helper()
	var res JoinResult
	err := f.svc.Join(context.Background(), c, f.room.ID, JoinOptions{Since: since}, func(r JoinResult) {
		res = r
		c.replied(r.Messages)
	})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	return res
}

// send stores and publishes a message the normal way.
func (f *fixture) send(t *testing.T, text string) chat.Message {
	t.Helper()
	m, err := f.svc.Send(context.Background(), f.alice, SendRequest{Room: f.room.ID, Text: text})
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	return m
}

// appendLost stores a message without publishing it: a lost publish.
func (f *fixture) appendLost(t *testing.T, text string) chat.Message {
	t.Helper()
	m, created, err := f.svc.store.AppendMessage(context.Background(), chat.Message{
		ID: chat.NewID("m_"), Room: f.room.ID, From: f.alice, Text: text, CreatedAt: chat.Now(),
	})
	if err != nil || !created {
		t.Fatalf("append %q: got created %v, err %v; want a new message", text, created, err)
	}
	return m
}

// publish puts a message event on the room's bus subject as a hub would.
func (f *fixture) publish(t *testing.T, m chat.Message) {
	t.Helper()
	b, err := json.Marshal(chat.MessageEvent{Type: chat.EventMessage, Room: f.room.ID, Message: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.bus.Publish(context.Background(), f.bus.RoomMsg(f.room.ID), b); err != nil {
		t.Fatalf("publish seq %d: %v", m.Seq, err)
	}
}

func seqsOf(msgs []chat.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// checkExactly fails unless c received exactly want, in this order. Callers
// first wait for a fence: a message sent after everything under test, so
// that a duplicate or misordered delivery would already have arrived.
func checkExactly(t *testing.T, c *fakeConn, want []int64) {
	t.Helper()
	if got := c.received(); !slices.Equal(got, want) {
		t.Fatalf("received seqs: got %v, want %v (each exactly once, in order)", got, want)
	}
}

// TestLostPublishRepairedByNextEvent: a message stored without a publish
// is backfilled from the store when the next event shows the gap.
func TestLostPublishRepairedByNextEvent(t *testing.T) {
	f := newFixture(t, noRepair)
	c := newFakeConn(f.alice)
	f.join(t, c, nil)

	lost := f.appendLost(t, "lost")
	next := f.send(t, "next")
	if lost.Seq != 1 || next.Seq != 2 {
		t.Fatalf("stored seqs: got %d, %d; want 1, 2", lost.Seq, next.Seq)
	}
	c.waitFor(t, next.Seq)
	fence := f.send(t, "fence")
	c.waitFor(t, fence.Seq)
	checkExactly(t, c, []int64{1, 2, 3})
	if got := f.metrics.gapRepaired.Load(); got != 1 {
		t.Fatalf("gap-repaired messages: got %d, want 1", got)
	}
}

// TestLostPublishRepairedByPeriodicPass: with no later send, the periodic
// comparison with the store delivers what the bus never carried.
func TestLostPublishRepairedByPeriodicPass(t *testing.T) {
	f := newFixture(t, 50*time.Millisecond)
	c := newFakeConn(f.alice)
	f.join(t, c, nil)

	f.appendLost(t, "lost 1")
	c.waitFor(t, 1)
	f.appendLost(t, "lost 2")
	f.appendLost(t, "lost 3")
	c.waitFor(t, 3)
	fence := f.send(t, "fence")
	c.waitFor(t, fence.Seq)
	checkExactly(t, c, []int64{1, 2, 3, 4})
	if got := f.metrics.gapRepaired.Load(); got != 3 {
		t.Fatalf("gap-repaired messages: got %d, want 3", got)
	}
}

// TestRepairAllRunsAPassNow: RepairAll does not wait for the interval.
func TestRepairAllRunsAPassNow(t *testing.T) {
	f := newFixture(t, noRepair)
	c := newFakeConn(f.alice)
	f.join(t, c, nil)

	f.appendLost(t, "lost")
	f.svc.RepairAll()
	c.waitFor(t, 1)
	// A second request after the first pass works too.
	f.appendLost(t, "lost again")
	f.svc.RepairAll()
	c.waitFor(t, 2)
	fence := f.send(t, "fence")
	c.waitFor(t, fence.Seq)
	checkExactly(t, c, []int64{1, 2, 3})
}

// TestDuplicateEventsDropped: the same event arriving twice on the bus is
// fanned out once, whether it was delivered long ago or just now.
func TestDuplicateEventsDropped(t *testing.T) {
	f := newFixture(t, noRepair)
	c := newFakeConn(f.alice)
	f.join(t, c, nil)

	m1 := f.send(t, "one")
	c.waitFor(t, m1.Seq)
	m2 := f.send(t, "two")
	c.waitFor(t, m2.Seq)
	// Redeliveries of old events.
	f.publish(t, m1)
	f.publish(t, m2)
	f.publish(t, m1)
	// A message whose event arrives twice back to back.
	m3 := f.appendLost(t, "three")
	f.publish(t, m3)
	f.publish(t, m3)
	// Publishes from one bus connection arrive in order, so the fence
	// comes after every copy above.
	fence := f.send(t, "fence")
	c.waitFor(t, fence.Seq)
	checkExactly(t, c, []int64{1, 2, 3, 4})
	if got := f.metrics.gapRepaired.Load(); got != 0 {
		t.Fatalf("gap-repaired messages: got %d, want 0 (nothing was missing)", got)
	}
}

// TestJoinSinceDuringSends: connections join, with since or for the
// latest messages, while messages are being sent; each sees every seq from
// its starting point on exactly once and in order, the join reply's
// messages and the later events together.
func TestJoinSinceDuringSends(t *testing.T) {
	for _, tt := range []struct {
		name   string
		repair time.Duration
	}{
		{"bus only", noRepair},
		{"with repair passes", 20 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.repair)
			const (
				total   = 300
				joiners = 12
			)
			// Some history exists before anyone joins.
			for i := range 20 {
				f.send(t, fmt.Sprintf("before %d", i))
			}
			milestones := make([]chan struct{}, joiners)
			for i := range milestones {
				milestones[i] = make(chan struct{})
			}
			sendErr := make(chan error, 1)
			go func() {
				defer close(sendErr)
				next := 0
				for i := 20; i < total; i++ {
					for next < joiners && i >= 20+next*(total-20)/joiners {
						close(milestones[next])
						next++
					}
					if _, err := f.svc.Send(context.Background(), f.alice, SendRequest{Room: f.room.ID, Text: fmt.Sprintf("during %d", i)}); err != nil {
						sendErr <- fmt.Errorf("send %d: %w", i, err)
						break
					}
				}
				for ; next < joiners; next++ {
					close(milestones[next])
				}
			}()

			type joined struct {
				c     *fakeConn
				since *int64 // nil: a join for the latest messages
				res   JoinResult
				err   error
			}
			results := make([]joined, joiners)
			var wg sync.WaitGroup
			for i := range joiners {
				<-milestones[i]
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx := context.Background()
					seqs, err := f.db.LastSeqs(ctx, []string{f.room.ID})
					if err != nil {
						results[i].err = err
						return
					}
					// A spread of starting points: from scratch, exactly
					// the latest seen, somewhat behind it, and none.
					var since *int64
					switch {
					case i == 0:
						since = new(int64)
					case i%4 != 3:
						since = new(max(0, seqs[f.room.ID]-int64(i%4)*7))
					}
					c := newFakeConn(f.alice)
					results[i] = joined{c: c, since: since}
					results[i].err = f.svc.Join(ctx, c, f.room.ID, JoinOptions{Since: since}, func(r JoinResult) {
						results[i].res = r
						c.replied(r.Messages)
					})
				}()
			}
			wg.Wait()
			if err := <-sendErr; err != nil {
				t.Fatal(err)
			}
			// first is the seq a joiner must see first.
			first := func(r joined) int64 {
				if r.since != nil {
					return *r.since + 1
				}
				if len(r.res.Messages) > 0 {
					return r.res.Messages[0].Seq
				}
				return 1
			}
			describe := func(r joined) string {
				if r.since == nil {
					return fmt.Sprintf("no since, reply %d messages", len(r.res.Messages))
				}
				return fmt.Sprintf("since %d, reply %d messages", *r.since, len(r.res.Messages))
			}
			for i, r := range results {
				if r.err != nil {
					t.Fatalf("joiner %d: join: %v", i, r.err)
				}
				n := int64(len(r.res.Messages))
				if r.since == nil {
					// The latest 50 (of at least 20 stored), has_more when
					// older ones exist.
					if n == 0 || n > 50 || (n < 50 && first(r) != 1) || r.res.HasMore != (first(r) > 1) {
						t.Errorf("joiner %d (%s): got reply seqs %v, has_more %v; want the latest up to 50, has_more iff older exist",
							i, describe(r), seqsOf(r.res.Messages), r.res.HasMore)
					}
				} else if r.res.HasMore {
					t.Errorf("joiner %d (%s): got has_more true, want false for %d messages", i, describe(r), total)
				}
				ok := r.c.waitUntil(func(s []int64) bool { return len(s) > 0 && s[len(s)-1] == total })
				if !ok {
					t.Errorf("joiner %d (%s): not caught up within %v: got %v (overflowed %v)", i, describe(r), wait, r.c.received(), r.c.overflowedNow())
				}
			}
			// One more send as a fence against late duplicates.
			fence := f.send(t, "fence")
			for i, r := range results {
				r.c.waitFor(t, fence.Seq)
				if got := r.c.received(); !slices.Equal(got, seqRange(first(r), fence.Seq)) {
					t.Errorf("joiner %d (%s): got seqs %v, want %d..%d each exactly once, in order",
						i, describe(r), got, first(r), fence.Seq)
				}
			}
		})
	}
}

// TestJoinSinceAheadOfStore: a since beyond the room's newest message (a
// client that saw seqs a restored or failed-over store no longer holds)
// must not hide the messages stored after the join. PROTOCOL §3: "After
// the reply, the connection receives every later event of the room." The
// hub may instead refuse such a since as bad_request.
func TestJoinSinceAheadOfStore(t *testing.T) {
	f := newFixture(t, noRepair)
	f.send(t, "one")
	f.send(t, "two")
	c := newFakeConn(f.alice)
	since := int64(10)
	var res JoinResult
	err := f.svc.Join(context.Background(), c, f.room.ID, JoinOptions{Since: &since}, func(r JoinResult) {
		res = r
		c.replied(r.Messages)
	})
	if err != nil {
		if e := chat.AsError(err); e.Code != chat.CodeBadRequest {
			t.Fatalf("join since %d with last seq 2: got error %v, want success or bad_request", since, err)
		}
		return
	}
	if len(res.Messages) != 0 || res.Room.LastSeq != 2 {
		t.Errorf("join since %d with last seq 2: got %d messages and room last_seq %d, want 0 messages and last_seq 2",
			since, len(res.Messages), res.Room.LastSeq)
	}
	m := f.send(t, "three, stored after the join")
	if !c.waitUntil(func(s []int64) bool { return slices.Contains(s, m.Seq) }) {
		t.Fatalf("message seq %d stored after a join with since %d: not delivered within %v (got %v)", m.Seq, since, wait, c.received())
	}
}

// TestRepairGapLargerThanAPage: a gap of more than one backfill page
// (200 messages), e.g. after a bus outage in a busy room, is repaired in
// order, whether the room state started empty or not, and whichever way
// the repair is triggered.
func TestRepairGapLargerThanAPage(t *testing.T) {
	for _, tt := range []struct {
		name      string
		delivered int // messages delivered normally before the gap
		trigger   string
	}{
		{"empty room, next send", 0, "send"},
		{"empty room, RepairAll", 0, "repair"},
		{"after a delivered message, next send", 1, "send"},
		{"after a delivered message, RepairAll", 1, "repair"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, noRepair)
			c := newFakeConn(f.alice)
			f.join(t, c, nil)
			for i := range tt.delivered {
				c.waitFor(t, f.send(t, fmt.Sprintf("delivered %d", i)).Seq)
			}
			const gap = backfillPage + 50
			for i := range gap {
				f.appendLost(t, fmt.Sprintf("lost %d", i))
			}
			last := int64(tt.delivered + gap)
			if tt.trigger == "send" {
				last = f.send(t, "next").Seq
			} else {
				f.svc.RepairAll()
			}
			c.waitFor(t, last)
			fence := f.send(t, "fence")
			c.waitFor(t, fence.Seq)
			checkExactly(t, c, seqRange(1, fence.Seq))
		})
	}
}

// TestJoinSinceHoldsTheOldestAfterIt: with since N, the reply holds the
// messages above N, the oldest first, up to 500 (PROTOCOL §3), also for
// N = 0, a client that has seen nothing yet.
func TestJoinSinceHoldsTheOldestAfterIt(t *testing.T) {
	f := newFixture(t, noRepair)
	const stored = joinRecovery + 20
	for i := range stored {
		f.appendLost(t, fmt.Sprintf("m%d", i))
	}
	for _, since := range []int64{0, 5} {
		t.Run(fmt.Sprintf("since %d", since), func(t *testing.T) {
			c := newFakeConn(f.alice)
			res := f.join(t, c, &since)
			got := seqsOf(res.Messages)
			if want := seqRange(since+1, since+joinRecovery); !slices.Equal(got, want) || !res.HasMore {
				t.Errorf("join since %d with %d stored: got %d messages %v..%v, has_more %v; want %d..%d, has_more true",
					since, stored, len(got), got[:min(3, len(got))], got[max(0, len(got)-3):], res.HasMore, since+1, since+joinRecovery)
			}
			if err := f.svc.Leave(context.Background(), c, f.room.ID); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCloseDropsSubscriptions: after Close no room state is left and
// nothing more is delivered; goleak in TestMain checks the goroutines.
func TestCloseDropsSubscriptions(t *testing.T) {
	f := newFixture(t, 20*time.Millisecond)
	c := newFakeConn(f.alice)
	f.join(t, c, nil)
	m := f.send(t, "before close")
	c.waitFor(t, m.Seq)
	if n := f.svc.LocalConnections(f.room.ID); n != 1 {
		t.Fatalf("local connections before Close: got %d, want 1", n)
	}
	f.svc.Close()
	f.svc.Close() // idempotent
	if n := f.svc.LocalConnections(f.room.ID); n != 0 {
		t.Fatalf("local connections after Close: got %d, want 0", n)
	}
}
