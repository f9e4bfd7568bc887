package presence_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/presence"
	"github.com/pawfect/hub/internal/redistest"
)

func departures(ds []presence.Departure) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Room+"/"+d.User.ID)
	}
	slices.Sort(out)
	return out
}

func TestRedisReapLostNode(t *testing.T) {
	client, prefix := redistest.Client(t, "prtest")
	ctx := context.Background()
	lost := newRedis(t, client, prefix, "node-lost")
	a := newRedis(t, client, prefix, "node-a")
	b := newRedis(t, client, prefix, "node-b")

	join(t, lost, "r", "u1", "c1")
	join(t, lost, "r", "u2", "c2")
	join(t, lost, "solo", "u1", "c3")
	join(t, a, "r", "u2", "c4") // u2 stays online through node-a
	join(t, a, "r", "u3", "c5")
	lost.Close() // a crash: the heartbeat stops, nothing leaves

	// Two survivors reap at once: each departure goes to exactly one.
	var mu sync.Mutex
	var all []presence.Departure
	var wg sync.WaitGroup
	for _, p := range []*presence.Redis{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ds, err := p.Reap(ctx, "node-lost")
			if err != nil {
				t.Errorf("Reap: %v", err)
			}
			mu.Lock()
			all = append(all, ds...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got, want := departures(all), []string{"r/u1", "solo/u1"}; !slices.Equal(got, want) {
		t.Fatalf("departures: got %q, want %q (u2 is still on node-a)", got, want)
	}
	for _, d := range all {
		if d.User.Username != "n_"+d.User.ID {
			t.Errorf("departure user: got %+v, want the stored user", d.User)
		}
	}
	// Gone at once, long before the TTL.
	if conns, online := state(t, a, "r"); !slices.Equal(conns, []string{"node-a/u2/c4", "node-a/u3/c5"}) ||
		!slices.Equal(online, []string{"u2", "u3"}) {
		t.Fatalf("after reaping: got %q, %q; want only node-a's connections", conns, online)
	}
	if conns, _ := state(t, a, "solo"); conns != nil {
		t.Fatalf("solo after reaping: got %q, want nothing", conns)
	}

	// Nothing is left to reap, and reaping oneself does nothing.
	if ds, err := a.Reap(ctx, "node-lost"); err != nil || len(ds) != 0 {
		t.Fatalf("second Reap: got %v, %v; want nothing", ds, err)
	}
	if ds, err := a.Reap(ctx, "node-a"); err != nil || len(ds) != 0 {
		t.Fatalf("Reap of itself: got %v, %v; want nothing", ds, err)
	}
	if conns, _ := state(t, a, "r"); len(conns) != 2 {
		t.Fatalf("after reaping itself: got %q, want node-a's 2 connections kept", conns)
	}
}

func TestRedisReapPrevious(t *testing.T) {
	client, prefix := redistest.Client(t, "prtest")
	ctx := context.Background()
	before := newRedis(t, client, prefix, "node-x")
	other := newRedis(t, client, prefix, "node-o")
	join(t, before, "r", "u1", "c1")
	join(t, other, "r", "u2", "c2")
	before.Close() // crashed, and restarted at once under the same node ID
	after := newRedis(t, client, prefix, "node-x")
	ds, err := after.ReapPrevious(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := departures(ds); !slices.Equal(got, []string{"r/u1"}) {
		t.Fatalf("departures: got %q, want [r/u1]", got)
	}
	if conns, _ := state(t, other, "r"); !slices.Equal(conns, []string{"node-o/u2/c2"}) {
		t.Fatalf("after ReapPrevious: got %q, want only node-o's connection", conns)
	}
}

// TestRedisNodeRoomSet: the node's room set, which Reap walks, holds the
// rooms the node is in and drops the ones it left, pass by pass.
func TestRedisNodeRoomSet(t *testing.T) {
	client, prefix := redistest.Client(t, "prtest")
	// Passes every 500 ms: the join and leave below fall between two.
	p := newRedis(t, client, prefix, "node-a", presence.WithTTL(3*time.Second), presence.WithHeartbeatInterval(500*time.Millisecond))
	key := prefix + ":presence:node:node-a"
	rooms := func() []string {
		got, err := client.SMembers(context.Background(), key).Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	join(t, p, "r1", "u1", "c1")
	join(t, p, "r2", "u1", "c2")
	if got := rooms(); !slices.Equal(got, []string{"r1", "r2"}) {
		t.Fatalf("after joins: got %q, want [r1 r2] at once", got)
	}
	// Left before any heartbeat pass may have seen it: it goes all the same.
	leave(t, p, "r2", "u1", "c2")
	eventually(t, 5*time.Second, "r2 to drop out of the set", func() bool { return slices.Equal(rooms(), []string{"r1"}) })
	// A lost set (Redis restarted) comes back with the next pass.
	if err := client.Del(context.Background(), key).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the set to be written again", func() bool { return slices.Equal(rooms(), []string{"r1"}) })
}

// TestRedisReturnAfterReap: a node reaped while it was only cut off from
// the others puts its connections back with its heartbeat, and reports
// each user who is back as a first connection, so the hub can announce
// them online again to those who were told they left.
func TestRedisReturnAfterReap(t *testing.T) {
	client, prefix := redistest.Client(t, "prtest")
	ctx := context.Background()
	var mu sync.Mutex
	var returned []string
	alive := newRedis(t, client, prefix, "node-cut", presence.WithTTL(3*time.Second),
		presence.WithHeartbeatInterval(100*time.Millisecond),
		presence.WithOnReturn(func(_ context.Context, room string, u chat.User) {
			mu.Lock()
			returned = append(returned, room+"/"+u.ID+"/"+u.Username)
			mu.Unlock()
		}))
	other := newRedis(t, client, prefix, "node-o")
	join(t, alive, "r", "u1", "c1")
	join(t, alive, "r", "u1", "c2") // two connections, one return
	join(t, other, "r", "u2", "c3")

	ds, err := other.Reap(ctx, "node-cut")
	if err != nil {
		t.Fatal(err)
	}
	if got := departures(ds); !slices.Equal(got, []string{"r/u1"}) {
		t.Fatalf("departures: got %q, want [r/u1]", got)
	}
	eventually(t, 5*time.Second, "the heartbeat to put u1 back", func() bool {
		_, online := state(t, other, "r")
		return slices.Equal(online, []string{"u1", "u2"})
	})
	eventually(t, 5*time.Second, "u1's return to be reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(returned) > 0
	})
	time.Sleep(300 * time.Millisecond) // a few more passes: nothing more to report
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(returned, []string{"r/u1/n_u1"}) {
		t.Fatalf("returns: got %q, want u1 in r once", returned)
	}
}
