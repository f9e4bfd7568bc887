package presence_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/presence"
	"github.com/pawfect/hub/internal/presence/presencetest"
	"github.com/pawfect/hub/internal/redistest"
)

// newRedis makes a presence for node on the test prefix, closed at cleanup.
func newRedis(t *testing.T, client *redis.Client, prefix, node string, opts ...presence.Option) *presence.Redis {
	t.Helper()
	p, err := presence.NewRedis(client, node, append([]presence.Option{presence.WithPrefix(prefix)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestRedis(t *testing.T) {
	redistest.URL(t)
	presencetest.Run(t, func(t *testing.T) presencetest.P {
		client, prefix := redistest.Client(t, "prtest")
		return newRedis(t, client, prefix, "node-a")
	})
}

// eventually polls cond every 20ms until it holds, failing after wait.
func eventually(t *testing.T, wait time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v", what, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// state is a room's presence as one string per connection, node/user/conn,
// sorted, and its online user IDs.
func state(t *testing.T, p presencetest.P, room string) (conns, online []string) {
	t.Helper()
	ctx := context.Background()
	cs, err := p.Connections(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		conns = append(conns, c.Node+"/"+c.UserID+"/"+c.ID)
	}
	slices.Sort(conns)
	us, err := p.Online(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		online = append(online, u.ID)
	}
	return conns, online
}

func join(t *testing.T, p presencetest.P, room, user, conn string) bool {
	t.Helper()
	first, err := p.Join(context.Background(), room, chat.User{ID: user, Username: "n_" + user}, conn)
	if err != nil {
		t.Fatalf("Join(%s, %s, %s): %v", room, user, conn, err)
	}
	return first
}

func leave(t *testing.T, p presencetest.P, room, user, conn string) bool {
	t.Helper()
	last, err := p.Leave(context.Background(), room, user, conn)
	if err != nil {
		t.Fatalf("Leave(%s, %s, %s): %v", room, user, conn, err)
	}
	return last
}

// TestRedisNodesShareOneView: two nodes on one prefix see each other's
// connections, with first and last counted over both.
func TestRedisNodesShareOneView(t *testing.T) {
	client, prefix := redistest.Client(t, "prtest")
	a := newRedis(t, client, prefix, "node-a")
	b := newRedis(t, client, prefix, "node-b")
	steps := []struct {
		name       string
		p          presencetest.P
		op         string
		user, conn string
		want       bool
	}{
		{"u1 joins on a", a, "join", "u1", "ca", true},
		{"u1 joins on b too", b, "join", "u1", "cb", false},
		{"u2 joins on b", b, "join", "u2", "cc", true},
		{"u1 leaves a", a, "leave", "u1", "ca", false},
		{"u1 leaves b: last", b, "leave", "u1", "cb", true},
	}
	for _, s := range steps {
		var got bool
		if s.op == "join" {
			got = join(t, s.p, "r", s.user, s.conn)
		} else {
			got = leave(t, s.p, "r", s.user, s.conn)
		}
		if got != s.want {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
		if s.name == "u2 joins on b" {
			conns, online := state(t, a, "r")
			if want := []string{"node-a/u1/ca", "node-b/u1/cb", "node-b/u2/cc"}; !slices.Equal(conns, want) {
				t.Fatalf("connections seen from a: got %q, want %q", conns, want)
			}
			if want := []string{"u1", "u2"}; !slices.Equal(online, want) {
				t.Fatalf("online seen from a: got %q, want %q", online, want)
			}
		}
	}
	if _, online := state(t, a, "r"); !slices.Equal(online, []string{"u2"}) {
		t.Fatalf("online at the end: got %q, want [u2]", online)
	}
	leave(t, b, "r", "u2", "cc")
	assertNoRoomKeys(t, client, prefix, "r")
}

// TestRedisConcurrentAcrossNodes: the same users join and leave the same
// room through two nodes at once; each user gets exactly one first and one
// last.
func TestRedisConcurrentAcrossNodes(t *testing.T) {
	client, prefix := redistest.Client(t, "prtest")
	nodes := []*presence.Redis{newRedis(t, client, prefix, "node-a"), newRedis(t, client, prefix, "node-b")}
	const users, connsPerNode = 6, 8
	for round := range 3 {
		for _, op := range []string{"join", "leave"} {
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex // guards count and errs
				count = map[string]int{}
				errs  []error
			)
			for n, p := range nodes {
				for u := range users {
					for c := range connsPerNode {
						wg.Go(func() {
							uid, cid := fmt.Sprintf("u%d", u), fmt.Sprintf("c-%d-%d-%d", n, u, c)
							var ok bool
							var err error
							if op == "join" {
								ok, err = p.Join(context.Background(), "r", chat.User{ID: uid}, cid)
							} else {
								ok, err = p.Leave(context.Background(), "r", uid, cid)
							}
							mu.Lock()
							defer mu.Unlock()
							if err != nil {
								errs = append(errs, err)
							}
							if ok {
								count[uid]++
							}
						})
					}
				}
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("round %d %s: %v", round, op, err)
			}
			for u := range users {
				if got := count[fmt.Sprintf("u%d", u)]; got != 1 {
					t.Fatalf("round %d %s u%d: got %d true results, want exactly 1", round, op, u, got)
				}
			}
		}
	}
	assertNoRoomKeys(t, client, prefix, "r")
}

// TestRedisCrashedNodeExpires: a node that stops heartbeating (Close
// without Leave, as in a crash) loses its connections after the TTL, while
// a live node's connections stay; once nobody is left, the room's keys
// expire too.
func TestRedisCrashedNodeExpires(t *testing.T) {
	client, prefix := redistest.Client(t, "prtest")
	const ttl, interval = time.Second, 300 * time.Millisecond
	crashed := newRedis(t, client, prefix, "node-crashed", presence.WithTTL(ttl), presence.WithHeartbeatInterval(interval))
	live := newRedis(t, client, prefix, "node-live", presence.WithTTL(ttl), presence.WithHeartbeatInterval(interval))

	join(t, crashed, "r", "u1", "c1")
	join(t, crashed, "r", "u2", "c2")
	join(t, crashed, "solo", "u1", "c3")
	join(t, live, "r", "u2", "c4")

	// While both heartbeat, everything outlives several TTLs.
	until := time.Now().Add(3 * ttl)
	for time.Now().Before(until) {
		if conns, _ := state(t, live, "r"); len(conns) != 3 {
			t.Fatalf("while heartbeating: got connections %q, want 3", conns)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Timed from before Close: its last refresh can be no later than that,
	// while Close itself may take a while to return.
	stopped := time.Now()
	crashed.Close()
	eventually(t, ttl+5*time.Second, "the crashed node's connections expire", func() bool {
		conns, online := state(t, live, "r")
		return slices.Equal(conns, []string{"node-live/u2/c4"}) && slices.Equal(online, []string{"u2"})
	})
	if took := time.Since(stopped); took < ttl-interval {
		t.Errorf("connections vanished %s after the heartbeat stopped, before the TTL %s", took, ttl)
	}
	// Nobody reads room "solo": its keys expire in Redis on their own.
	eventually(t, ttl+5*time.Second, "the keys of a room left by a crashed node expire", func() bool {
		return countRoomKeys(t, client, prefix, "solo") == 0
	})
	if conns, online := state(t, live, "solo"); conns != nil || online != nil {
		t.Fatalf("solo: got %q, %q; want nothing", conns, online)
	}
	// u1 now joins on the live node: first again, as u1 was offline.
	if !join(t, live, "r", "u1", "c5") {
		t.Fatal("u1 joining after its connections expired: got first=false, want true")
	}
}

// TestRedisHeartbeatRestoresLostEntries: when Redis loses a room's keys
// (restart, flush), the heartbeat puts this node's connections back; one
// that left stays gone.
func TestRedisHeartbeatRestoresLostEntries(t *testing.T) {
	client, prefix := redistest.Client(t, "prtest")
	p := newRedis(t, client, prefix, "node-a", presence.WithTTL(2*time.Second), presence.WithHeartbeatInterval(100*time.Millisecond))
	join(t, p, "r", "u1", "c1")
	join(t, p, "r", "u2", "c2")
	if err := client.Del(context.Background(), roomKeys(prefix, "r")...).Err(); err != nil {
		t.Fatal(err)
	}
	if conns, _ := state(t, p, "r"); len(conns) != 0 {
		t.Fatalf("after deleting the keys: got %q, want none", conns)
	}
	eventually(t, 5*time.Second, "the heartbeat restores both connections", func() bool {
		conns, online := state(t, p, "r")
		return len(conns) == 2 && slices.Equal(online, []string{"u1", "u2"})
	})
	if !leave(t, p, "r", "u1", "c1") {
		t.Fatal("leave after restore: got last=false, want true")
	}
	// Several heartbeats later c1 is still gone and c2 still there.
	until := time.Now().Add(time.Second)
	for time.Now().Before(until) {
		if conns, _ := state(t, p, "r"); !slices.Equal(conns, []string{"node-a/u2/c2"}) {
			t.Fatalf("after leave: got %q, want only c2", conns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	tests := []struct {
		name string
		node string
		opts []presence.Option
	}{
		{"empty node", "", nil},
		{"empty prefix", "n", []presence.Option{presence.WithPrefix("")}},
		{"interval not below TTL", "n", []presence.Option{presence.WithTTL(time.Second), presence.WithHeartbeatInterval(time.Second)}},
		{"zero interval", "n", []presence.Option{presence.WithHeartbeatInterval(0)}},
		{"tiny TTL", "n", []presence.Option{presence.WithTTL(time.Microsecond)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := presence.NewRedis(client, tt.node, tt.opts...); err == nil {
				p.Close()
				t.Fatal("got nil error, want one")
			}
		})
	}
	if _, err := presence.NewRedis(nil, "n"); err == nil {
		t.Fatal("nil client: got nil error, want one")
	}
}

// TestRedisUnreachable: calls fail with an error naming the operation when
// Redis does not answer.
func TestRedisUnreachable(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	p, err := presence.NewRedis(client, "n")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Join(context.Background(), "r", chat.User{ID: "u"}, "c"); err == nil {
		t.Fatal("Join: got nil error, want one")
	} else if got := err.Error(); !strings.HasPrefix(got, "presence: join: ") {
		t.Fatalf("Join: error %q lacks the op prefix", got)
	}
	if _, err := p.Online(context.Background(), "r"); err == nil {
		t.Fatal("Online: got nil error, want one")
	}
}

// roomKeys repeats the key layout of presence/redis_scripts.go, so the
// tests notice if it changes by accident.
func roomKeys(prefix, room string) []string {
	var keys []string
	for _, part := range []string{"conns", "info", "users", "count", "gone"} {
		keys = append(keys, prefix+":presence:{"+room+"}:"+part)
	}
	return keys
}

func countRoomKeys(t *testing.T, client *redis.Client, prefix, room string) int64 {
	t.Helper()
	n, err := client.Exists(context.Background(), roomKeys(prefix, room)...).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// assertNoRoomKeys: a room everyone left holds no keys but its departures
// (which expire within the TTL).
func assertNoRoomKeys(t *testing.T, client *redis.Client, prefix, room string) {
	t.Helper()
	keys := roomKeys(prefix, room)
	n, err := client.Exists(context.Background(), keys[:len(keys)-1]...).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("room %s left empty: got %d keys, want 0", room, n)
	}
	ttl, err := client.PTTL(context.Background(), keys[len(keys)-1]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl < 0 || ttl > presence.DefaultTTL {
		t.Fatalf("departures key of room %s: TTL %s, want within %s", room, ttl, presence.DefaultTTL)
	}
}
