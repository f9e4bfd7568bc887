package cluster_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/cluster"
	"github.com/pawfect/hub/internal/store/sqlite"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// busAdapter gives cluster the bus in the shape it declares.
type busAdapter struct{ *bus.Bus }

func (b busAdapter) Subscribe(s string, fn func([]byte)) (cluster.Subscription, error) {
	return b.Bus.Subscribe(s, fn)
}

func (b busAdapter) Respond(s string, fn func([]byte) []byte) (cluster.Subscription, error) {
	return b.Bus.Respond(s, fn)
}

// node is a node's in-memory view: the connections it holds.
type node struct {
	mu     sync.Mutex
	rooms  map[string][]cluster.Conn
	closed []string
}

func (n *node) LocalRoom(roomID string) []cluster.Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.rooms[roomID])
}

func (n *node) LocalRooms() map[string][]cluster.Conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string][]cluster.Conn)
	for id, c := range n.rooms {
		out[id] = slices.Clone(c)
	}
	return out
}

func (n *node) Disconnect(connID string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, conns := range n.rooms {
		for i, c := range conns {
			if c.ID == connID {
				n.rooms[id] = slices.Delete(conns, i, i+1)
				n.closed = append(n.closed, connID)
				return true
			}
		}
	}
	return false
}

type env struct {
	t     *testing.T
	bus   *bus.Bus
	store *sqlite.DB
	subj  cluster.Subjects
	clock time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	b, err := bus.Open(ctx, bus.Options{Prefix: "ct", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("bus.Open: %v", err)
	}
	t.Cleanup(b.Close)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &env{t: t, bus: b, store: st, subj: cluster.Subjects{Beats: b.NodeBeats(), Questions: b.Nodes()},
		clock: chat.Now()}
}

func (e *env) start(name string, n *node, heartbeat time.Duration) *cluster.Service {
	e.t.Helper()
	s, err := cluster.New(e.t.Context(), cluster.Options{
		Node: name, Subjects: e.subj, Heartbeat: heartbeat, Timeout: 300 * time.Millisecond,
		Now: func() time.Time { return e.clock },
	}, cluster.Deps{Bus: busAdapter{e.bus}, Local: n, Store: e.store})
	if err != nil {
		e.t.Fatalf("cluster.New(%s): %v", name, err)
	}
	e.t.Cleanup(s.Close)
	return s
}

// ghost announces a node that never answers: a hub that died after its
// last beat.
func (e *env) ghost(name string) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"node": name, "state": "alive"})
	if err := e.bus.Publish(context.Background(), e.subj.Beats, b); err != nil {
		e.t.Errorf("ghost beat: %v", err) // may run on a goroutine: no Fatal
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) account(name string) chat.User {
	e.t.Helper()
	u := chat.User{ID: chat.NewID("u_"), Username: name, DisplayName: name, Role: chat.RoleUser}
	if err := e.store.CreateAccount(e.t.Context(), chat.Account{User: u, CreatedAt: chat.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) room(owner chat.User) chat.Room {
	e.t.Helper()
	r := chat.Room{ID: chat.NewID("r_"), Name: "room", Kind: chat.KindPublic, CreatedBy: owner.ID, CreatedAt: chat.Now()}
	if err := e.store.CreateRoom(e.t.Context(), r, owner.ID, nil, ""); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) send(r chat.Room, from chat.User, at time.Time) {
	e.t.Helper()
	m := chat.Message{ID: chat.NewID("m_"), Room: r.ID, From: from, Text: "hi", CreatedAt: at}
	if _, _, err := e.store.AppendMessage(e.t.Context(), m); err != nil {
		e.t.Fatal(err)
	}
}

func statusOf(nodes []chat.NodeStatus) map[string]string {
	out := map[string]string{}
	for _, n := range nodes {
		out[n.Node] = n.Status
	}
	return out
}

func TestRoomAcrossNodes(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.account("alice"), e.account("bob")
	r := e.room(alice)
	e.send(r, alice, e.clock.Add(-2*time.Minute)) // outside the last minute
	e.send(r, alice, e.clock.Add(-30*time.Second))
	e.send(r, bob, e.clock.Add(-time.Second))
	t0 := e.clock.Add(-time.Hour)
	n1 := &node{rooms: map[string][]cluster.Conn{r.ID: {{ID: "c1", User: alice, Since: t0}}}}
	n2 := &node{rooms: map[string][]cluster.Conn{r.ID: {{ID: "c2", User: bob, Since: t0}, {ID: "c3", User: alice, Since: t0.Add(time.Second)}}}}
	n3 := &node{rooms: map[string][]cluster.Conn{}}
	s1 := e.start("n1", n1, time.Hour)
	e.start("n2", n2, time.Hour)
	e.start("n3", n3, time.Hour)
	eventually(t, "n1 to know the others", func() bool { return len(s1.Nodes()) == 3 })

	d, err := s1.Room(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("Room: %v", err)
	}
	if d.LastSeq != 3 || d.Room.ID != r.ID {
		t.Errorf("got room %s last_seq %d, want %s and 3", d.Room.ID, d.LastSeq, r.ID)
	}
	if d.MessagesLastMinute != 2 {
		t.Errorf("messages_last_minute: got %d, want 2", d.MessagesLastMinute)
	}
	want := []struct {
		user  string
		conns []chat.ConnectionInfo
	}{
		{"alice", []chat.ConnectionInfo{{ID: "c1", Node: "n1", Since: t0}, {ID: "c3", Node: "n2", Since: t0.Add(time.Second)}}},
		{"bob", []chat.ConnectionInfo{{ID: "c2", Node: "n2", Since: t0}}},
	}
	if len(d.Online) != len(want) {
		t.Fatalf("online: got %+v, want %d users", d.Online, len(want))
	}
	for i, w := range want {
		got := d.Online[i]
		if got.User.Username != w.user || !slices.EqualFunc(got.Connections, w.conns, func(a, b chat.ConnectionInfo) bool {
			return a.ID == b.ID && a.Node == b.Node && a.Since.Equal(b.Since)
		}) {
			t.Errorf("online[%d]: got %s %+v, want %s %+v", i, got.User.Username, got.Connections, w.user, w.conns)
		}
	}
	if st := statusOf(d.Nodes); len(st) != 3 || st["n1"] != "ok" || st["n2"] != "ok" || st["n3"] != "ok" {
		t.Errorf("nodes: got %v, want n1, n2, n3 ok", d.Nodes)
	}

	if _, err := s1.Room(t.Context(), "no-such-room"); chat.AsError(err).Code != chat.CodeNotFound {
		t.Errorf("Room(unknown): got %v, want not_found", err)
	}
}

func TestUnreachableNodeIsListedNotWaitedFor(t *testing.T) {
	e := newEnv(t)
	alice := e.account("alice")
	r := e.room(alice)
	n1 := &node{rooms: map[string][]cluster.Conn{r.ID: {{ID: "c1", User: alice, Since: e.clock}}}}
	// The ghost keeps beating, as a hub whose bus link is up but whose
	// answers never come, until it is meant to be forgotten.
	s1 := e.start("n1", n1, 200*time.Millisecond)
	haunting := make(chan struct{})
	haunted := make(chan struct{})
	go func() {
		defer close(haunted)
		for {
			e.ghost("ghost")
			select {
			case <-haunting:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	stopGhost := sync.OnceFunc(func() { close(haunting); <-haunted })
	defer stopGhost()
	eventually(t, "n1 to know the ghost", func() bool { return slices.Contains(s1.Nodes(), "ghost") })

	d, err := s1.Room(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("Room: %v", err)
	}
	if st := statusOf(d.Nodes); st["ghost"] != "unreachable" || st["n1"] != "ok" {
		t.Errorf("nodes: got %v, want ghost unreachable and n1 ok", d.Nodes)
	}
	if len(d.Online) != 1 || d.Online[0].Connections[0].ID != "c1" {
		t.Errorf("online: got %+v, want n1's connection c1", d.Online)
	}

	// Not found here, and the ghost may hold it: unavailable, not not_found.
	if _, err := s1.Disconnect(t.Context(), "c9"); chat.AsError(err).Code != chat.CodeUnavailable {
		t.Errorf("Disconnect with a node silent: got %v, want unavailable", err)
	}
	// Three heartbeats without a word: forgotten.
	stopGhost()
	eventually(t, "the ghost to be forgotten", func() bool { return !slices.Contains(s1.Nodes(), "ghost") })
	if _, err := s1.Disconnect(t.Context(), "c9"); chat.AsError(err).Code != chat.CodeNotFound {
		t.Errorf("Disconnect of an unknown connection: got %v, want not_found", err)
	}
}

func TestDisconnectOnTheNodeThatHoldsIt(t *testing.T) {
	e := newEnv(t)
	alice := e.account("alice")
	n1 := &node{rooms: map[string][]cluster.Conn{}}
	n2 := &node{rooms: map[string][]cluster.Conn{"r": {{ID: "c2", User: alice, Since: e.clock}}}}
	s1 := e.start("n1", n1, time.Hour)
	s2 := e.start("n2", n2, time.Hour)
	eventually(t, "n1 to know n2", func() bool { return len(s1.Nodes()) == 2 })

	tests := []struct {
		name     string
		conn     string
		wantNode string
		wantCode chat.Code
	}{
		{"held by another node", "c2", "n2", ""},
		{"already gone", "c2", "", chat.CodeNotFound},
		{"empty id", "", "", chat.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s1.Disconnect(t.Context(), tt.conn)
			if tt.wantCode != "" {
				if chat.AsError(err).Code != tt.wantCode {
					t.Fatalf("got %q, %v; want code %s", got, err, tt.wantCode)
				}
				return
			}
			if err != nil || got != tt.wantNode {
				t.Fatalf("got %q, %v; want %q", got, err, tt.wantNode)
			}
		})
	}
	n2.mu.Lock()
	closed := slices.Clone(n2.closed)
	n2.mu.Unlock()
	if !slices.Equal(closed, []string{"c2"}) {
		t.Errorf("n2 closed %v, want [c2] once", closed)
	}

	// A goodbye removes the node at once.
	s2.Close()
	eventually(t, "n2's goodbye", func() bool { return len(s1.Nodes()) == 1 })
}

func TestRoomsList(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.account("alice"), e.account("bob")
	busy, quietOnline, chatty, stale := e.room(alice), e.room(alice), e.room(alice), e.room(alice)
	e.send(busy, alice, e.clock.Add(-10*time.Minute))
	e.send(chatty, alice, e.clock.Add(-10*time.Second))
	e.send(chatty, bob, e.clock.Add(-5*time.Second))
	e.send(stale, alice, e.clock.Add(-2*time.Hour)) // neither recent nor online
	n1 := &node{rooms: map[string][]cluster.Conn{
		busy.ID:        {{ID: "a1", User: alice}, {ID: "a2", User: alice}},
		quietOnline.ID: {{ID: "a3", User: alice}},
	}}
	n2 := &node{rooms: map[string][]cluster.Conn{busy.ID: {{ID: "b1", User: bob}}}}
	s1 := e.start("n1", n1, time.Hour)
	e.start("n2", n2, time.Hour)
	eventually(t, "n1 to know n2", func() bool { return len(s1.Nodes()) == 2 })

	got, nodes, err := s1.Rooms(t.Context())
	if err != nil {
		t.Fatalf("Rooms: %v", err)
	}
	type row struct {
		room                string
		users, conns, inMin int
	}
	want := []row{
		{busy.ID, 2, 3, 0},
		{quietOnline.ID, 1, 1, 0},
		{chatty.ID, 0, 0, 2},
	}
	var gotRows []row
	for _, st := range got {
		gotRows = append(gotRows, row{st.Room.ID, st.OnlineUsers, st.Connections, int(st.MessagesLastMinute)})
	}
	if !slices.Equal(gotRows, want) {
		t.Fatalf("Rooms: got %+v, want %+v", gotRows, want)
	}
	if st := statusOf(nodes); st["n1"] != "ok" || st["n2"] != "ok" {
		t.Errorf("nodes: got %v, want both ok", nodes)
	}
}

func TestLostNodeIsReportedOnce(t *testing.T) {
	e := newEnv(t)
	lost := make(chan string, 4)
	s, err := cluster.New(t.Context(), cluster.Options{
		Node: "n1", Subjects: e.subj, Heartbeat: 50 * time.Millisecond, Timeout: 300 * time.Millisecond,
		OnNodeLost: func(_ context.Context, node string) { lost <- node },
	}, cluster.Deps{Bus: busAdapter{e.bus}, Local: &node{}, Store: e.store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// The leaver beats as often as n1 expects, so only its goodbye, not a
	// slow machine, decides that it is not lost.
	leaver := e.start("leaver", &node{}, 50*time.Millisecond)
	e.ghost("ghost")
	eventually(t, "n1 to know both", func() bool { return len(s.Nodes()) == 3 })
	leaver.Close() // a goodbye is not a loss

	select {
	case n := <-lost:
		if n != "ghost" {
			t.Fatalf("lost node: got %q, want ghost", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the silent node was never reported lost")
	}
	select {
	case n := <-lost:
		t.Fatalf("another lost node reported: %q, want only the ghost, once", n)
	case <-time.After(300 * time.Millisecond):
	}
}

// offBus is the bus of a node whose own link can be cut.
type offBus struct {
	busAdapter
	down atomic.Bool
}

func (b *offBus) Connected() bool { return !b.down.Load() && b.busAdapter.Connected() }

// TestOwnOutageExcusesOthers: a node cut off from the bus hears nobody,
// which says nothing about the others; it must not report them lost (and
// have their users announced offline) for its own outage, and once back it
// gives them a full silence period to be heard.
func TestOwnOutageExcusesOthers(t *testing.T) {
	e := newEnv(t)
	lost := make(chan string, 4)
	b := &offBus{busAdapter: busAdapter{e.bus}}
	s, err := cluster.New(t.Context(), cluster.Options{
		Node: "n1", Subjects: e.subj, Heartbeat: 50 * time.Millisecond, Timeout: 300 * time.Millisecond,
		OnNodeLost: func(_ context.Context, node string) { lost <- node },
	}, cluster.Deps{Bus: b, Local: &node{}, Store: e.store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e.ghost("other")
	eventually(t, "n1 to know the other node", func() bool { return slices.Contains(s.Nodes(), "other") })

	b.down.Store(true)
	time.Sleep(500 * time.Millisecond) // many silence periods (150 ms) off the bus
	select {
	case n := <-lost:
		t.Fatalf("reported %q lost during its own outage, want nothing", n)
	default:
	}
	if !slices.Contains(s.Nodes(), "other") {
		t.Fatalf("nodes during its own outage: got %v, want the other node still listed", s.Nodes())
	}

	b.down.Store(false)
	// Back, and the other stays silent: it is lost after the grace period.
	select {
	case n := <-lost:
		if n != "other" {
			t.Fatalf("lost node: got %q, want other", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the silent node was never reported lost after the outage")
	}
}
