package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeHub is just enough of PROTOCOL §2–3 to drive loadgen end to end:
// register, guest, login, public rooms, the admin room inspection
// endpoints, and a WebSocket with join and send, with the per-user send
// limit. dropEvery > 0 withholds every dropEvery-th message event from the
// first member of each room. Several httptest servers may share one
// fakeHub: they are then hubs of one service.
type fakeHub struct {
	dropEvery int64
	// admin:adminPassword signs in as an admin; "plain" with any password
	// signs in as a user.
	admin, adminPassword string
	noAdminAPI           bool // the admin endpoints answer 404, as before they exist

	mu        sync.Mutex // guards everything below
	nextID    int
	rooms     map[string]*fakeRoom
	sends     map[string][]time.Time // token → recent sends
	inspected map[string]int         // room id → GET /api/admin/rooms/{id} answered
	listed    int                    // GET /api/admin/rooms answered
}

type fakeRoom struct {
	seq     int64
	members []*websocket.Conn
}

func newFakeHub() *fakeHub {
	return &fakeHub{rooms: make(map[string]*fakeRoom), sends: make(map[string][]time.Time), inspected: make(map[string]int)}
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErrorStatus(w http.ResponseWriter, status int, code string) {
	writeJSONStatus(w, status, map[string]any{"error": map[string]string{"code": code, "message": code}})
}

// serveAdmin answers GET /api/admin/rooms and /api/admin/rooms/{id} for an
// admin token (PROTOCOL §2 Ops; only the fields loadgen reads are real).
func (h *fakeHub) serveAdmin(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case h.noAdminAPI:
		writeErrorStatus(w, http.StatusNotFound, "not_found")
		return
	case !ok:
		writeErrorStatus(w, http.StatusUnauthorized, "unauthorized")
		return
	case !strings.HasPrefix(token, "admin-"):
		writeErrorStatus(w, http.StatusForbidden, "forbidden")
		return
	case r.Method != http.MethodGet:
		writeErrorStatus(w, http.StatusMethodNotAllowed, "bad_request")
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.URL.Path == "/api/admin/rooms" {
		h.listed++
		var list []any
		for id, room := range h.rooms {
			list = append(list, map[string]any{"room": map[string]any{"id": id, "last_seq": room.seq},
				"online_users": len(room.members), "connections": len(room.members)})
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"rooms": list})
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/api/admin/rooms/")
	room := h.rooms[id]
	if room == nil {
		writeErrorStatus(w, http.StatusNotFound, "not_found")
		return
	}
	h.inspected[id]++
	writeJSONStatus(w, http.StatusOK, map[string]any{
		"room":   map[string]any{"id": id, "kind": "public", "last_seq": room.seq},
		"online": []any{}, "call": nil, "streams": []any{}, "messages_last_minute": 0, "last_seq": room.seq,
	})
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.nextID++
	id := h.nextID
	h.mu.Unlock()
	if r.URL.Path == "/api/admin/rooms" || strings.HasPrefix(r.URL.Path, "/api/admin/rooms/") {
		h.serveAdmin(w, r)
		return
	}
	switch r.URL.Path {
	case "/api/auth/register", "/api/auth/guest":
		role := map[bool]string{true: "user", false: "guest"}[strings.HasSuffix(r.URL.Path, "register")]
		writeJSONStatus(w, http.StatusCreated, map[string]any{
			"user":  map[string]string{"id": fmt.Sprintf("u%d", id), "role": role},
			"token": fmt.Sprintf("%s-%d", role, id),
		})
	case "/api/auth/login":
		var body struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		role := ""
		switch {
		case h.admin != "" && body.Username == h.admin && body.Password == h.adminPassword:
			role = "admin"
		case body.Username == "plain":
			role = "user"
		default:
			writeErrorStatus(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{
			"user":  map[string]string{"id": fmt.Sprintf("u%d", id), "username": body.Username, "role": role},
			"token": fmt.Sprintf("%s-%d", role, id),
		})
	case "/api/rooms":
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer user-") {
			writeErrorStatus(w, http.StatusForbidden, "forbidden")
			return
		}
		rid := fmt.Sprintf("room%d", id)
		h.mu.Lock()
		h.rooms[rid] = &fakeRoom{}
		h.mu.Unlock()
		writeJSONStatus(w, http.StatusCreated, map[string]any{"room": map[string]any{"id": rid, "kind": "public", "last_seq": 0}})
	case "/ws":
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || r.Header.Get("Origin") != "" {
			http.Error(w, "no token or a browser origin", http.StatusForbidden)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		h.serveWS(c, token)
	default:
		http.NotFound(w, r)
	}
}

func (h *fakeHub) serveWS(c *websocket.Conn, token string) {
	defer c.CloseNow()
	ctx := context.Background()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var cmd struct {
			ID   int64  `json:"id"`
			Type string `json:"type"`
			Room string `json:"room"`
			Text string `json:"text"`
		}
		_ = json.Unmarshal(data, &cmd)
		replyErr := func(code string) {
			b, _ := json.Marshal(map[string]any{"type": "reply", "id": cmd.ID, "ok": false,
				"error": map[string]any{"code": code, "message": code, "retry_after_ms": 100}})
			_ = c.Write(ctx, websocket.MessageText, b)
		}
		h.mu.Lock()
		room := h.rooms[cmd.Room]
		switch {
		case room == nil:
			h.mu.Unlock()
			replyErr("not_found")
		case cmd.Type == "join":
			room.members = append(room.members, c)
			b, _ := json.Marshal(map[string]any{"type": "reply", "id": cmd.ID, "ok": true,
				"data": map[string]any{"room": map[string]any{"id": cmd.Room, "last_seq": room.seq}, "messages": []any{}}})
			_ = c.Write(ctx, websocket.MessageText, b)
			// A presence event, which loadgen must ignore.
			p, _ := json.Marshal(map[string]any{"type": "presence", "room": cmd.Room, "state": "online"})
			for _, m := range room.members {
				_ = m.Write(ctx, websocket.MessageText, p)
			}
			h.mu.Unlock()
		case cmd.Type == "send":
			now := time.Now()
			recent := h.sends[token][:0]
			for _, t := range h.sends[token] {
				if now.Sub(t) < 10*time.Second {
					recent = append(recent, t)
				}
			}
			if len(recent) >= 20 {
				h.sends[token] = recent
				h.mu.Unlock()
				replyErr("rate_limited")
				continue
			}
			h.sends[token] = append(recent, now)
			room.seq++
			msg := map[string]any{"id": fmt.Sprintf("m%d", room.seq), "room": cmd.Room, "seq": room.seq, "text": cmd.Text}
			b, _ := json.Marshal(map[string]any{"type": "reply", "id": cmd.ID, "ok": true, "data": map[string]any{"message": msg}})
			_ = c.Write(ctx, websocket.MessageText, b)
			ev, _ := json.Marshal(map[string]any{"type": "message", "room": cmd.Room, "message": msg})
			for i, m := range room.members {
				if i == 0 && h.dropEvery > 0 && room.seq%h.dropEvery == 0 {
					continue
				}
				_ = m.Write(ctx, websocket.MessageText, ev)
			}
			h.mu.Unlock()
		default:
			h.mu.Unlock()
			replyErr("bad_request")
		}
	}
}

func testConfig(t *testing.T, url string, args string) config {
	t.Helper()
	cfg, err := parseConfig(append([]string{"-hubs", url}, strings.Fields(args)...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func TestFanoutAgainstFakeHub(t *testing.T) {
	srv := httptest.NewServer(newFakeHub())
	defer srv.Close()
	cfg := testConfig(t, srv.URL, "-scenario fanout -receivers 20 -rate 40 -publishers 2 -warmup 300ms -duration 1s -drain 1s")
	res, err := run(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	m, ev := res.Messages, res.Events
	if m.Sent < 30 || m.Acked != m.Sent || m.Failed != 0 {
		t.Errorf("messages sent %d acked %d failed %d %v, want ~40 all acked", m.Sent, m.Acked, m.Failed, m.FailedByCode)
	}
	if ev.Expected != m.Acked*20 || ev.Delivered != ev.Expected || ev.Lost != 0 || ev.Gaps != 0 || ev.Duplicated != 0 {
		t.Errorf("events %+v, want %d delivered, none lost", *ev, m.Acked*20)
	}
	if res.Latency.Samples != uint64(ev.Delivered) || res.Latency.Max <= 0 {
		t.Errorf("latency %+v, want %d samples", *res.Latency, ev.Delivered)
	}
	if res.Clients != 20+2*14 || res.PublisherConns != 28 || res.Disconnects != 0 {
		t.Errorf("clients %d publishers %d drops %d, want 48, 28, 0", res.Clients, res.PublisherConns, res.Disconnects)
	}
	var out strings.Builder
	writeText(&out, res)
	if err := writeJSON(&out, res); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
}

func TestRoomsCountsLossAndRateLimits(t *testing.T) {
	hub := newFakeHub()
	hub.dropEvery = 5
	srv := httptest.NewServer(hub)
	defer srv.Close()
	cfg := testConfig(t, srv.URL, "-scenario rooms -rooms 4 -per-room 5 -rate 6 -warmup 200ms -duration 1500ms -drain 500ms")
	res, err := run(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ev := res.Events
	if ev.Lost == 0 || ev.Gaps == 0 || ev.Delivered+ev.Lost != ev.Expected {
		t.Errorf("events %+v, want some lost and seq gaps (first member misses every 5th)", *ev)
	}
	if res.PublisherConns != 4*4 || res.Receivers != 20 {
		t.Errorf("publishing %d receivers %d, want 16 and 20", res.PublisherConns, res.Receivers)
	}
}

func TestRateLimitedCounted(t *testing.T) {
	srv := httptest.NewServer(newFakeHub())
	defer srv.Close()
	cfg := testConfig(t, srv.URL, "-scenario fanout -receivers 2 -rate 40 -warmup 0s -duration 1s -drain 500ms")
	// One publishing user at 40 msg/s: loadgen would never plan that, so
	// build the plan by hand to see the limit counted.
	plan := fanoutPlan(cfg)
	plan.pubs[0].pool = plan.pubs[0].pool[:1]
	res, err := runTraffic(context.Background(), newEnv(cfg, testLogger(t)), plan)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Messages
	if m.RateLimited == 0 || m.Acked > 20 || m.Failed != m.Sent-m.Acked {
		t.Errorf("messages %+v, want rate_limited failures after 20 acks", *m)
	}
}

func TestIdleAgainstFakeHub(t *testing.T) {
	srv := httptest.NewServer(newFakeHub())
	defer srv.Close()
	cfg := testConfig(t, srv.URL, fmt.Sprintf("-scenario idle -conns 200 -per-room 10 -warmup 200ms -duration 500ms -hub-pid %d", os.Getpid()))
	res, err := run(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	i := res.Idle
	if i.Held != 200 || res.Rooms != 20 || i.HubRSSBeforeKiB <= 0 || i.HubRSSAfterKiB <= 0 {
		t.Errorf("idle %+v rooms %d, want 200 held in 20 rooms with RSS readings", *i, res.Rooms)
	}
}

func TestSetupFailureIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	cfg := testConfig(t, srv.URL, "-receivers 2 -rate 1 -duration 1s")
	_, err := run(context.Background(), cfg, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "register") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("run against a 404 server: err = %v, want a register error naming HTTP 404", err)
	}
}
