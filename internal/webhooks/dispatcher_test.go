package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/postgres"
	"github.com/pawfect/hub/internal/store/postgres/pgtest"
	"github.com/pawfect/hub/internal/store/sqlite"
)

// testStore is a real store as these tests drive it: the package's Store
// plus what it takes to make events.
type testStore interface {
	Store
	CreateAccount(ctx context.Context, a chat.Account) error
	CreateRoom(ctx context.Context, r chat.Room, owner string, members []string, directKey string) error
	AppendMessage(ctx context.Context, m chat.Message) (chat.Message, bool, error)
}

var (
	_ testStore = (*sqlite.DB)(nil)
	_ testStore = (*postgres.DB)(nil)
)

func openSQLite(t *testing.T) testStore {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T) testStore {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// world is a store with an admin, a user and a public room.
type world struct {
	t     *testing.T
	store testStore
	reg   *Registry
	admin chat.User
	alice chat.User
	room  chat.Room
}

func newWorld(t *testing.T, s testStore) *world {
	t.Helper()
	w := &world{t: t, store: s, reg: NewRegistry(s)}
	for _, u := range []*chat.User{&w.admin, &w.alice} {
		role := chat.RoleUser
		if u == &w.admin {
			role = chat.RoleAdmin
		}
		*u = chat.User{ID: chat.NewID("usr_"), Username: fmt.Sprintf("%s_%s", role, chat.NewID("")[20:]), DisplayName: string(role), Role: role}
		if err := s.CreateAccount(t.Context(), chat.Account{User: *u, CreatedAt: chat.Now()}); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
	}
	w.room = chat.Room{ID: chat.NewID("r_"), Name: "general", Kind: chat.KindPublic, CreatedBy: w.alice.ID, CreatedAt: chat.Now()}
	if err := s.CreateRoom(t.Context(), w.room, w.alice.ID, nil, ""); err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	return w
}

func (w *world) hook(url string) chat.Webhook {
	w.t.Helper()
	h, err := w.reg.Create(w.t.Context(), w.admin, CreateRequest{URL: url, Events: []string{chat.EventMessage}})
	if err != nil {
		w.t.Fatalf("Registry.Create: %v", err)
	}
	return h
}

func (w *world) send(text string) chat.Message {
	w.t.Helper()
	m, _, err := w.store.AppendMessage(w.t.Context(), chat.Message{
		ID: chat.NewID("m_"), Room: w.room.ID, From: w.alice, Text: text, CreatedAt: chat.Now(),
	})
	if err != nil {
		w.t.Fatalf("AppendMessage: %v", err)
	}
	return m
}

func (w *world) deliveries(h chat.Webhook) []chat.WebhookDelivery {
	w.t.Helper()
	ds, err := w.reg.Deliveries(w.t.Context(), w.admin, h.ID, DeliveriesRequest{Limit: MaxDeliveryLimit})
	if err != nil {
		w.t.Fatalf("Registry.Deliveries: %v", err)
	}
	return ds
}

// dispatcher starts a dispatcher with test-sized waits; it is closed at
// cleanup unless the test closed it.
func (w *world) dispatcher(cfg Config) *Dispatcher {
	w.t.Helper()
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase, cfg.RetryCap = 10*time.Millisecond, 40*time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	d, err := NewDispatcher(cfg, w.store, nil)
	if err != nil {
		w.t.Fatalf("NewDispatcher: %v", err)
	}
	d.Start()
	w.t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

// received is one request as the receiver saw it.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an httptest server answering each request with respond(n)
// for the n-th request (from 1) and keeping every request.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex // guards reqs
	reqs    []received
	respond func(n int, r *http.Request) int
}

func newReceiver(t *testing.T, respond func(n int, r *http.Request) int) *receiver {
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{header: r.Header.Clone(), body: body})
		n := len(rc.reqs)
		rc.mu.Unlock()
		w.WriteHeader(rc.respond(n, r))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// eventually polls cond until it holds, failing the test after 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFailsThreeTimesThenDelivers(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	h := w.hook(rc.URL + "/hook")
	m := w.send("hello receiver")
	w.dispatcher(Config{Node: "node-1"})

	eventually(t, "delivered", func() bool {
		ds := w.deliveries(h)
		return len(ds) == 1 && ds[0].Status == chat.DeliveryDelivered
	})
	reqs := rc.requests()
	if len(reqs) != 4 {
		t.Fatalf("requests: got %d, want 4 (3 failures, 1 success)", len(reqs))
	}
	d := w.deliveries(h)[0]
	for i, r := range reqs {
		var d2 diff
		if got := r.header.Get("X-Hub-Signature-256"); got != hmacHex(h.Secret, r.body) {
			d2.add("X-Hub-Signature-256", got, hmacHex(h.Secret, r.body))
		}
		if got := r.header.Get("X-Hub-Delivery"); got != d.EventID {
			d2.add("X-Hub-Delivery", got, d.EventID)
		}
		if got := r.header.Get("X-Hub-Event"); got != chat.EventMessage {
			d2.add("X-Hub-Event", got, chat.EventMessage)
		}
		if got := r.header.Get("X-Hub-Attempt"); got != fmt.Sprint(i+1) {
			d2.add("X-Hub-Attempt", got, i+1)
		}
		if got := r.header.Get("Content-Type"); got != "application/json" {
			d2.add("Content-Type", got, "application/json")
		}
		if string(r.body) != string(d.Body) {
			d2.add("body", string(r.body), string(d.Body))
		}
		d2.report(t, fmt.Sprintf("request %d", i+1))
	}
	var ev chat.WebhookEvent
	if err := json.Unmarshal(reqs[3].body, &ev); err != nil {
		t.Fatal(err)
	}
	var got chat.Message
	if err := json.Unmarshal(ev.Data, &got); err != nil {
		t.Fatal(err)
	}
	if ev.ID != d.EventID || ev.Type != chat.EventMessage || ev.Room != w.room.ID || got.ID != m.ID || got.Text != m.Text {
		t.Fatalf("event: got %+v with message %+v, want %s message %s in %s", ev, got, d.EventID, m.ID, w.room.ID)
	}
	codes := []int{}
	for i, a := range d.Attempts {
		codes = append(codes, a.StatusCode)
		if a.N != i+1 || a.Node != "node-1" {
			t.Errorf("attempt %d: got n=%d node=%q, want n=%d node-1", i, a.N, a.Node, i+1)
		}
	}
	if !slices.Equal(codes, []int{500, 500, 500, 204}) {
		t.Fatalf("attempt log: got statuses %v, want [500 500 500 204]", codes)
	}
}

func TestGivesUpAfterTheGiveUpAge(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusBadGateway })
	h := w.hook(rc.URL)
	w.send("doomed")
	w.dispatcher(Config{GiveUp: 50 * time.Millisecond, AllowShortGiveUp: true})
	eventually(t, "failed", func() bool {
		ds := w.deliveries(h)
		return len(ds) == 1 && ds[0].Status == chat.DeliveryFailed
	})
	d := w.deliveries(h)[0]
	if len(d.Attempts) == 0 || d.FinishedAt == nil || d.NextAttemptAt != nil {
		t.Fatalf("failed delivery: got %+v, want attempts, finished, no next attempt", d)
	}
	n := len(rc.requests())
	if n != len(d.Attempts) {
		t.Fatalf("requests: got %d, want one per recorded attempt (%d)", n, len(d.Attempts))
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	elsewhere := newReceiver(t, func(int, *http.Request) int { return http.StatusOK })
	mover := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Redirect(rw, r, elsewhere.URL, http.StatusFound)
	}))
	t.Cleanup(mover.Close)
	h := w.hook(mover.URL)
	w.send("moved")
	w.dispatcher(Config{})
	eventually(t, "two attempts", func() bool {
		ds := w.deliveries(h)
		return len(ds) == 1 && len(ds[0].Attempts) >= 2
	})
	d := w.deliveries(h)[0]
	if d.Status != chat.DeliveryPending || d.Attempts[0].StatusCode != http.StatusFound || d.Attempts[0].Error != "redirect not followed" {
		t.Fatalf("after a redirect: got %+v, want pending with a 302 attempt", d)
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Fatalf("requests at the redirect target: got %d, want 0", n)
	}
}

func TestTimeoutIsAFailedAttempt(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	rc := newReceiver(t, func(n int, r *http.Request) int {
		if n == 1 {
			<-r.Context().Done() // never answers; the hub gives up on it
		}
		return http.StatusOK
	})
	h := w.hook(rc.URL)
	w.send("slow")
	w.dispatcher(Config{Timeout: time.Second})
	eventually(t, "delivered", func() bool {
		ds := w.deliveries(h)
		return len(ds) == 1 && ds[0].Status == chat.DeliveryDelivered
	})
	// On a loaded machine a later attempt may time out too; what matters is
	// that the first one did, was recorded as a failure, and was retried.
	a := w.deliveries(h)[0].Attempts
	if len(a) < 2 || a[0].StatusCode != 0 || a[0].Error == "" || a[len(a)-1].StatusCode != http.StatusOK {
		t.Fatalf("attempts: got %+v, want a timed-out one with an error first and a 200 last", a)
	}
}

// A delivery cut short by Close is recorded as interrupted and is due at
// once, so the next dispatcher (another hub, or this one restarted)
// delivers it.
func TestCloseInterruptsAndTheNextDispatcherDelivers(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	arrived := make(chan struct{})
	rc := newReceiver(t, func(n int, r *http.Request) int {
		if n == 1 {
			close(arrived)
			<-r.Context().Done()
		}
		return http.StatusOK
	})
	h := w.hook(rc.URL)
	w.send("in flight at shutdown")
	first := w.dispatcher(Config{Node: "first"})
	<-arrived
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no grace: cut the in-flight POST at once
	if err := first.Close(ctx); err == nil {
		t.Fatalf("Close with an ended context and a delivery in flight: got nil error, want the context's")
	}
	d := w.deliveries(h)[0]
	if d.Status != chat.DeliveryPending || len(d.Attempts) != 1 || d.Attempts[0].Error != "interrupted: the hub is shutting down" {
		t.Fatalf("after Close: got %+v, want pending with one interrupted attempt", d)
	}
	w.dispatcher(Config{Node: "second"})
	eventually(t, "delivered by the second dispatcher", func() bool {
		ds := w.deliveries(h)
		return ds[0].Status == chat.DeliveryDelivered
	})
	a := w.deliveries(h)[0].Attempts
	if len(a) != 2 || a[1].Node != "second" || a[1].StatusCode != http.StatusOK {
		t.Fatalf("attempts: got %+v, want the second made by the second dispatcher", a)
	}
}

func TestCloseWaitsForInFlightDeliveries(t *testing.T) {
	w := newWorld(t, openSQLite(t))
	arrived, release := make(chan struct{}), make(chan struct{})
	var answered atomic.Bool
	rc := newReceiver(t, func(n int, r *http.Request) int {
		close(arrived)
		<-release
		answered.Store(true)
		return http.StatusOK
	})
	h := w.hook(rc.URL)
	w.send("finish me")
	d := w.dispatcher(Config{})
	<-arrived
	type result struct {
		err      error
		answered bool // whether the receiver had answered when Close returned
	}
	closed := make(chan result, 1)
	go func() {
		err := d.Close(context.Background())
		closed <- result{err, answered.Load()}
	}()
	// Give a Close that does not wait the time to return early; the
	// receiver answers only after it.
	time.Sleep(200 * time.Millisecond)
	close(release)
	res := <-closed
	if res.err != nil {
		t.Fatalf("Close: got error %v, want nil", res.err)
	}
	if !res.answered {
		t.Fatal("Close returned before the delivery in flight was answered")
	}
	if ds := w.deliveries(h); ds[0].Status != chat.DeliveryDelivered || len(rc.requests()) != 1 {
		t.Fatalf("after Close: got %+v and %d requests, want delivered once", ds[0], len(rc.requests()))
	}
}

// Two dispatchers on one PostgreSQL store, as two hubs: every event is
// POSTed exactly once.
func TestTwoDispatchersDeliverEachEventOnce(t *testing.T) {
	const events = 40
	w := newWorld(t, openPostgres(t))
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusOK })
	h := w.hook(rc.URL)
	for i := range events {
		w.send(fmt.Sprintf("event %d", i))
	}
	w.dispatcher(Config{Node: "a", Workers: 3})
	w.dispatcher(Config{Node: "b", Workers: 3})
	eventually(t, "all delivered", func() bool {
		ds := w.deliveries(h)
		for _, d := range ds {
			if d.Status != chat.DeliveryDelivered {
				return false
			}
		}
		return len(ds) == events
	})
	// Every POST is recorded before its delivery shows delivered, so by
	// now the receiver has seen all there will be.
	seen := map[string]int{}
	for _, r := range rc.requests() {
		seen[r.header.Get("X-Hub-Delivery")]++
	}
	if len(seen) != events {
		t.Fatalf("distinct events received: got %d, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s: received %d times, want once", id, n)
		}
	}
	nodes := map[string]int{}
	for _, d := range w.deliveries(h) {
		if len(d.Attempts) != 1 {
			t.Errorf("delivery %s: got %d attempts, want 1", d.EventID, len(d.Attempts))
		}
		nodes[d.Attempts[0].Node]++
	}
	t.Logf("deliveries per dispatcher: %v", nodes)
}

// diff collects mismatches so one failure lists all of them.
type diff []string

func (d *diff) add(field string, got, want any) {
	*d = append(*d, fmt.Sprintf("%s: got %v, want %v", field, got, want))
}

func (d diff) report(t *testing.T, what string) {
	t.Helper()
	if len(d) > 0 {
		t.Fatalf("%s:\n\t%v", what, []string(d))
	}
}
