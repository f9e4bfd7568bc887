package calls

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/postgres"
	"github.com/pawfect/hub/internal/store/postgres/pgtest"
	"github.com/pawfect/hub/internal/store/sqlite"
)

// TestMain proves the sweeper, stores and subscriptions the tests start
// are all stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testStore is the store the service uses plus what the tests need to set
// up rooms and accounts.
type testStore interface {
	Store
	CreateAccount(ctx context.Context, a chat.Account) error
	CreateRoom(ctx context.Context, r chat.Room, owner string, members []string, directKey string) error
	Close() error
}

// backends are the stores the state machine runs against: SQLite always,
// PostgreSQL when HUB_TEST_DATABASE_URL is set (see pgtest).
var backends = []struct {
	name string
	open func(t *testing.T) testStore
}{
	{"sqlite", func(t *testing.T) testStore {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hub.db"))
		if err != nil {
			t.Fatalf("sqlite.Open: got error %v, want nil", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", func(t *testing.T) testStore {
		url := pgtest.URL(t)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		db, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatalf("postgres.Open: got error %v, want nil", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
}

// clock is a fake clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeRooms records broadcasts and answers CanJoin from its room table:
// public rooms are open to all, others to their members.
type fakeRooms struct {
	mu      sync.Mutex
	rooms   map[string]chat.Room
	members map[string][]chat.Member
	frames  map[string][][]byte // by room
}

func (r *fakeRooms) CanJoin(_ context.Context, u chat.User, roomID string) (chat.Room, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	room, ok := r.rooms[roomID]
	if !ok {
		return chat.Room{}, chat.Errorf(chat.CodeNotFound, "no room %s", roomID)
	}
	if room.Kind != chat.KindPublic && !slices.ContainsFunc(r.members[roomID], func(m chat.Member) bool { return m.User.ID == u.ID }) {
		return chat.Room{}, chat.Errorf(chat.CodeForbidden, "not a member of %s", roomID)
	}
	return room, nil
}

func (r *fakeRooms) Members(_ context.Context, roomID string) ([]chat.Member, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.members[roomID]), nil
}

func (r *fakeRooms) Broadcast(_ context.Context, roomID string, frame []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames[roomID] = append(r.frames[roomID], frame)
	return nil
}

// states decodes the call_state events broadcast to a room.
func (r *fakeRooms) states(t *testing.T, roomID string) []chat.Call {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []chat.Call
	for _, f := range r.frames[roomID] {
		var ev chat.CallStateEvent
		if err := json.Unmarshal(f, &ev); err != nil {
			t.Fatalf("broadcast %s: got undecodable frame %s: %v", roomID, f, err)
		}
		if ev.Type != chat.EventCallState || ev.Room != roomID {
			t.Fatalf("broadcast %s: got type %q room %q, want call_state in that room", roomID, ev.Type, ev.Room)
		}
		out = append(out, ev.Call)
	}
	return out
}

// fakeUsers records the frames delivered to users.
type fakeUsers struct {
	mu     sync.Mutex
	frames map[string][][]byte
}

func (u *fakeUsers) DeliverToUser(_ context.Context, userID string, frame []byte) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.frames[userID] = append(u.frames[userID], frame)
	return nil
}

func (u *fakeUsers) rings(t *testing.T, userID string) []chat.CallRingEvent {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []chat.CallRingEvent
	for _, f := range u.frames[userID] {
		var ev chat.CallRingEvent
		if err := json.Unmarshal(f, &ev); err != nil {
			t.Fatalf("ring for %s: got undecodable frame %s: %v", userID, f, err)
		}
		out = append(out, ev)
	}
	return out
}

// fakeBus is an in-memory subject → handlers table, delivering
// synchronously.
type fakeBus struct {
	mu   sync.Mutex
	subs map[string][]*fakeSub
}

type fakeSub struct {
	b       *fakeBus
	subject string
	fn      func([]byte)
}

func (s *fakeSub) Unsubscribe() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.subs[s.subject] = slices.DeleteFunc(s.b.subs[s.subject], func(x *fakeSub) bool { return x == s })
	return nil
}

func (b *fakeBus) Subscribe(subject string, fn func([]byte)) (Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &fakeSub{b: b, subject: subject, fn: fn}
	b.subs[subject] = append(b.subs[subject], s)
	return s, nil
}

func (b *fakeBus) ConnRTC(connID string) string { return "test.conn." + connID + ".rtc" }

func (b *fakeBus) publish(subject string, data []byte) {
	b.mu.Lock()
	subs := slices.Clone(b.subs[subject])
	b.mu.Unlock()
	for _, s := range subs {
		s.fn(data)
	}
}

func (b *fakeBus) subscribers(subject string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs[subject])
}

// recSFU records what the service asks of the SFU and, like the real
// node, sends the joining peer its first offer on the connection's
// subject during Join.
type recSFU struct {
	bus *fakeBus

	mu      sync.Mutex
	nodes   []string // Place hands these out in turn, then repeats the last
	placed  int
	peers   map[string]map[string]bool // call → peers
	ops     []string
	joinErr error
	// onJoin, if set, runs once at the start of the next Join (without
	// mu): what other hubs do while the SFU joins.
	onJoin func()
}

func (f *recSFU) op(format string, args ...any) {
	f.ops = append(f.ops, fmt.Sprintf(format, args...))
}

func (f *recSFU) Place(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.nodes[min(f.placed, len(f.nodes)-1)]
	f.placed++
	return n, nil
}

func (f *recSFU) Join(_ context.Context, node, call, peer, user, kind string) error {
	f.mu.Lock()
	hook := f.onJoin
	f.onJoin = nil
	f.mu.Unlock()
	if hook != nil {
		hook() // before the peer exists, as when another hub's End overtakes the join
	}
	f.mu.Lock()
	f.op("join %s %s %s %s %s", node, call, peer, user, kind)
	if f.joinErr != nil {
		f.mu.Unlock()
		return f.joinErr
	}
	if f.peers[call] == nil {
		f.peers[call] = map[string]bool{}
	}
	if f.peers[call][peer] {
		f.mu.Unlock()
		return chat.Errorf(chat.CodeConflict, "peer %s exists", peer)
	}
	f.peers[call][peer] = true
	f.mu.Unlock()
	offer, _ := json.Marshal(map[string]string{"type": chat.EventRTCOffer, "call_id": call, "sdp": "v=0 offer for " + peer})
	f.bus.publish(f.bus.ConnRTC(peer), offer)
	return nil
}

func (f *recSFU) has(call, peer string) error {
	if !f.peers[call][peer] {
		return chat.Errorf(chat.CodeNotFound, "no peer %s in call %s", peer, call)
	}
	return nil
}

func (f *recSFU) Answer(_ context.Context, node, call, peer, sdp string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("answer %s %s %s", node, call, peer)
	return f.has(call, peer)
}

func (f *recSFU) Candidate(_ context.Context, node, call, peer string, cand json.RawMessage) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("candidate %s %s %s", node, call, peer)
	return f.has(call, peer)
}

func (f *recSFU) Publish(_ context.Context, node, call, peer, source string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("publish %s %s %s %s", node, call, peer, source)
	return f.has(call, peer)
}

func (f *recSFU) Leave(_ context.Context, node, call, peer string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("leave %s %s %s", node, call, peer)
	if err := f.has(call, peer); err != nil {
		return err
	}
	delete(f.peers[call], peer)
	return nil
}

func (f *recSFU) End(_ context.Context, node, call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.op("end %s %s", node, call)
	delete(f.peers, call)
	return nil
}

func (f *recSFU) Stats(_ context.Context, node, call string) ([]chat.CallParticipant, error) {
	return nil, nil
}

func (f *recSFU) opsLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ops)
}

func (f *recSFU) peerSet(call string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for p := range f.peers[call] {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// fakeConn is a client connection that keeps what it was given.
type fakeConn struct {
	id   string
	user chat.User

	mu     sync.Mutex
	frames [][]byte
}

func (c *fakeConn) ID() string      { return c.id }
func (c *fakeConn) User() chat.User { return c.user }
func (c *fakeConn) Deliver(frame []byte) {
	c.mu.Lock()
	c.frames = append(c.frames, frame)
	c.mu.Unlock()
}

func (c *fakeConn) delivered() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.frames {
		out = append(out, string(f))
	}
	return out
}

// env is one test's world: a store, the fakes, and services for hubs
// "hub-1" (svc) and, on demand, others sharing everything.
type env struct {
	t     *testing.T
	store testStore
	rooms *fakeRooms
	users *fakeUsers
	bus   *fakeBus
	sfu   *recSFU
	clock *clock
	opts  Options
	svc   *Service
	n     int
}

func newEnv(t *testing.T, st testStore, o Options) *env {
	e := &env{
		t:     t,
		store: st,
		rooms: &fakeRooms{rooms: map[string]chat.Room{}, members: map[string][]chat.Member{}, frames: map[string][][]byte{}},
		users: &fakeUsers{frames: map[string][][]byte{}},
		bus:   &fakeBus{subs: map[string][]*fakeSub{}},
		clock: &clock{now: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)},
		opts:  o,
	}
	e.sfu = &recSFU{bus: e.bus, nodes: []string{"sfu-1"}, peers: map[string]map[string]bool{}}
	e.svc = e.hub("hub-1")
	return e
}

// hub returns a service for another hub over the same store and fakes.
func (e *env) hub(node string) *Service {
	o := e.opts
	o.HubNode = node
	o.Clock = e.clock.Now
	s, err := New(o, Deps{Store: e.store, SFU: e.sfu, Inspector: e.sfu, Rooms: e.rooms, Users: e.users, Bus: e.bus})
	if err != nil {
		e.t.Fatalf("New: got error %v, want nil", err)
	}
	e.t.Cleanup(s.Close)
	return s
}

func (e *env) user(name string) chat.User {
	e.t.Helper()
	u := chat.User{ID: chat.NewID("u_"), Username: name, DisplayName: name, Role: chat.RoleUser}
	if err := e.store.CreateAccount(e.t.Context(), chat.Account{User: u, CreatedAt: e.clock.Now()}); err != nil {
		e.t.Fatalf("CreateAccount(%s): got error %v, want nil", name, err)
	}
	return u
}

// room creates a room of kind with members (the first is the owner) in the
// store and in the fake room table.
func (e *env) room(kind chat.RoomKind, members ...chat.User) chat.Room {
	e.t.Helper()
	r := chat.Room{ID: chat.NewID("r_"), Name: string(kind), Kind: kind, CreatedBy: members[0].ID, CreatedAt: e.clock.Now()}
	var ids []string
	for _, m := range members[1:] {
		ids = append(ids, m.ID)
	}
	key := ""
	if kind == chat.KindDirect {
		key = members[0].ID + ":" + members[1].ID
	}
	if err := e.store.CreateRoom(e.t.Context(), r, members[0].ID, ids, key); err != nil {
		e.t.Fatalf("CreateRoom: got error %v, want nil", err)
	}
	e.rooms.mu.Lock()
	e.rooms.rooms[r.ID] = r
	for _, m := range members {
		e.rooms.members[r.ID] = append(e.rooms.members[r.ID], chat.Member{User: m, Role: chat.MemberMember})
	}
	e.rooms.mu.Unlock()
	return r
}

func (e *env) conn(u chat.User) *fakeConn {
	e.n++
	return &fakeConn{id: fmt.Sprintf("conn%d_%s", e.n, u.Username), user: u}
}

func (e *env) record(callID string) chat.CallRecord {
	e.t.Helper()
	rec, err := e.store.CallByID(e.t.Context(), callID)
	if err != nil {
		e.t.Fatalf("CallByID(%s): got error %v, want nil", callID, err)
	}
	return rec
}

// lastState is the newest call_state broadcast to the room.
func (e *env) lastState(roomID string) chat.Call {
	e.t.Helper()
	states := e.rooms.states(e.t, roomID)
	if len(states) == 0 {
		e.t.Fatalf("call_state in %s: got none, want at least one", roomID)
	}
	return states[len(states)-1]
}

func userIDs(us []chat.User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// wantCode fails unless err is a *chat.Error with code.
func wantCode(t *testing.T, what string, err error, code chat.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want %s", what, code)
	}
	if got := chat.AsError(err).Code; got != code {
		t.Fatalf("%s: got error %v (code %s), want code %s", what, err, got, code)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: got error %v, want nil", what, err)
	}
}

// eventually polls cond until it holds, failing after a generous bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still false after 10s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
