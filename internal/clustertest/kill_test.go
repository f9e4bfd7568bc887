package clustertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/clustertest"
	"github.com/pawfect/hub/internal/presence"
	"github.com/pawfect/hub/internal/redistest"
	"github.com/pawfect/hub/internal/server/servertest"
)

// presenceBound is the promise: a dead hub's presence entries are
// gone within 30 s (the default presence TTL, which the hubs here keep).
const presenceBound = 30 * time.Second

// presenceGrace is the time one presence poll may take beyond the bound.
const presenceGrace = 2 * time.Second

// TestKillHub kills one of three hubs with SIGKILL under traffic from
// peers spread over all three. The killed hub's peers reconnect to another
// hub and recover with join since; every peer must end up with every
// stored message exactly once, in order, and every acknowledged send must
// be stored. The killed hub's presence entries must vanish within 30 s,
// and its users who do not come back are announced offline once.
func TestKillHub(t *testing.T) {
	t.Parallel()
	const victim = 2
	c := clustertest.Start(t, clustertest.Options{Hubs: 3, Env: map[string]string{"HUB_SEND_RATE": "100000/1s"}})
	owner := c.API(0).Register(t, "owner")
	room := c.API(0).CreateRoom(t, owner, "busy", chat.KindPublic)

	// The lurker sits on the victim and never comes back: its user must
	// drop out of the room's online list, as seen from hub0.
	lurker := c.API(victim).Guest(t, "lurker")
	c.API(victim).Dial(t, servertest.DialOptions{Token: lurker.Token}).Join(room.ID, -1)
	w := newPresenceWatch(t, c, 0, owner.Token, room.ID, lurker.User.ID, c.Hub(victim).NodeID)
	if online, err := w.online(); err != nil || !online {
		t.Fatalf("before the kill: lurker (on hub%d) online %v (%v), want listed", victim, online, err)
	}

	tr := newTraffic(t, c, room.ID, 6, true)
	tr.run()
	tr.waitAcks(60, "traffic before the kill")

	if n, err := w.snapshot(); err != nil || n < 3 {
		t.Fatalf("before the kill: %d presence entries of hub%d in Redis (%v); want the lurker's and its peers'", n, victim, err)
	}
	killedAt := time.Now()
	c.Kill(t, victim)
	var res presenceResult
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		res = w.watch(killedAt.Add(presenceBound + presenceGrace))
	}()
	defer func() { <-watched }() // it ends by its deadline at the latest

	// Its peers move to other hubs and go on sending there.
	for _, p := range tr.peers {
		if p.home != victim {
			continue
		}
		p.mu.Lock()
		n := len(p.acked)
		p.mu.Unlock()
		eventually(t, settleTimeout, "peer "+p.name+" recovered on another hub", func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return len(p.conns) > 1 && len(p.acked) >= n+10 || len(p.problems) > 0
		})
	}
	t.Logf("the killed hub's peers sent 10 more each through other hubs %v after SIGKILL", since(killedAt))
	tr.waitAcks(30, "traffic after the kill")
	hist := tr.check()
	for _, p := range tr.peers {
		if p.home == victim && len(p.conns) < 2 {
			t.Errorf("peer %s of the killed hub never reconnected", p.name)
		}
	}

	// While it stays dead, the surviving hubs find it lost (about 6 s
	// without a heartbeat) and reap it: the lurker is announced offline
	// long before the 30 s presence TTL.
	eventually(t, 20*time.Second, "the lurker announced offline", func() bool { return w.offlineEvents() > 0 })
	t.Logf("the lurker announced offline %v after SIGKILL", since(killedAt))

	// The killed hub comes back on its address and serves the room as it
	// is now; stopped gracefully, it moves its clients away with 1001.
	c.Restart(t, victim)
	back := c.API(victim).Guest(t, "back")
	cb := c.API(victim).Dial(t, servertest.DialOptions{Token: back.Token})
	if got, want := cb.Join(room.ID, -1).Room.LastSeq, int64(len(hist)); got != want {
		t.Errorf("restarted hub%d: join reply last_seq %d, want %d", victim, got, want)
	}
	c.Stop(t, victim)
	if code := cb.Closed(); code != chat.CloseGoingAway {
		t.Errorf("client of the gracefully stopped hub%d: close code %d, want %d", victim, code, chat.CloseGoingAway)
	}

	<-watched
	switch {
	case res.err != nil:
		t.Fatalf("presence watch: %v", res.err)
	case res.goneAt.IsZero():
		t.Fatalf("the killed hub's presence entries still listed %v after SIGKILL; want gone within %v", presenceBound+presenceGrace, presenceBound)
	}
	t.Logf("the killed hub's presence entries gone %v after SIGKILL", res.goneAt.Sub(killedAt).Round(100*time.Millisecond))

	// Exactly once, although two hubs survived to announce it and the
	// restarted one cleared its previous run's entries too.
	if n := w.offlineEvents(); n != 1 {
		t.Errorf("offline events for the lurker at the observer: got %d, want 1", n)
	}
}

// offlineEvents counts the observer's presence events saying the watched
// user went offline.
func (w *presenceWatch) offlineEvents() int {
	n := 0
	for _, f := range w.observer.Frames() {
		if f.Type != chat.EventPresence {
			continue
		}
		var ev chat.PresenceEvent
		if json.Unmarshal(f.Raw, &ev) == nil && ev.User.ID == w.user && ev.State == chat.StateOffline {
			n++
		}
	}
	return n
}

func since(t0 time.Time) time.Duration { return time.Since(t0).Round(100 * time.Millisecond) }

// presenceWatch looks for a dead hub's presence entries in a room, both
// straight in Redis (the connections it had when it died) and through a
// join reply's online list on a live hub (a user whose only connection was
// there). It uses no testing.T method, so it can poll from its own
// goroutine while the test goes on.
type presenceWatch struct {
	redis    *presence.Redis
	observer *clustertest.Client
	room     string
	user     string // a user whose only connection was on the dead hub
	node     string // the dead hub's node ID

	conns map[string]bool // the dead hub's connections, from snapshot
}

type presenceResult struct {
	goneAt time.Time // zero: still there at the deadline
	err    error
}

func newPresenceWatch(t *testing.T, c *clustertest.Cluster, hub int, token, room, user, node string) *presenceWatch {
	t.Helper()
	opts, err := redis.ParseURL(redistest.URL(t))
	if err != nil {
		t.Fatalf("HUB_TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	pres, err := presence.NewRedis(client, "clustertest-observer", presence.WithPrefix(c.Prefix))
	if err != nil {
		_ = client.Close()
		t.Fatalf("presence reader: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
	defer cancel()
	observer, err := clustertest.Dial(ctx, c.URL(hub), token)
	if err != nil {
		t.Fatalf("observer: %v", err)
	}
	t.Cleanup(func() {
		observer.Close()
		pres.Close()
		_ = client.Close()
	})
	return &presenceWatch{redis: pres, observer: observer, room: room, user: user, node: node}
}

// snapshot records the node's connections now listed in Redis, the ones
// gone waits for, and returns how many there are.
func (w *presenceWatch) snapshot() (int, error) {
	conns, err := w.connections()
	if err != nil {
		return 0, err
	}
	w.conns = map[string]bool{}
	for _, cn := range conns {
		if cn.Node == w.node {
			w.conns[cn.ID] = true
		}
	}
	return len(w.conns), nil
}

func (w *presenceWatch) connections() ([]presence.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conns, err := w.redis.Connections(ctx, w.room)
	if err != nil {
		return nil, fmt.Errorf("read presence from Redis: %w", err)
	}
	return conns, nil
}

// gone reports whether Redis lists none of the snapshot's connections and
// the online list lacks the user. (A restarted hub of the same node ID
// lists new connections; those are not the dead ones.)
func (w *presenceWatch) gone() (bool, error) {
	conns, err := w.connections()
	if err != nil {
		return false, err
	}
	for _, cn := range conns {
		if w.conns[cn.ID] {
			return false, nil
		}
	}
	online, err := w.online()
	return !online && err == nil, err
}

// online reports whether the user is in the room's online list of a join
// reply; joining again on the same connection answers with a fresh list.
func (w *presenceWatch) online() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
	defer cancel()
	f, err := w.observer.Do(ctx, "join", map[string]any{"room": w.room})
	if err != nil {
		return false, err
	}
	var r struct {
		Online []chat.User `json:"online"`
	}
	if !f.OK || json.Unmarshal(f.Data, &r) != nil {
		return false, fmt.Errorf("observer join: %s", f.Raw)
	}
	return isOnline(r.Online, w.user), nil
}

// watch polls gone until it holds or deadline passes.
func (w *presenceWatch) watch(deadline time.Time) presenceResult {
	for time.Now().Before(deadline) {
		gone, err := w.gone()
		if err != nil {
			return presenceResult{err: err}
		}
		if gone {
			return presenceResult{goneAt: time.Now()}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return presenceResult{}
}

func isOnline(users []chat.User, id string) bool {
	for _, u := range users {
		if u.ID == id {
			return true
		}
	}
	return false
}
