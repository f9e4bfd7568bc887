package server_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// scrape reads /metrics and returns every sample by its name with labels
// (e.g. `hub_bus_events_total{event="reconnect"}`), and the metric types
// announced by "# TYPE" lines.
func scrape(t *testing.T, h *servertest.Hub) (samples map[string]float64, types map[string]string) {
	t.Helper()
	status, body := h.Do(t, "GET", "/metrics", "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: got status %d, want 200; body %.200s", status, body)
	}
	samples, types = map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			types[f[2]] = f[3]
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("/metrics: unparsable line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, types
}

// metric returns one sample of /metrics, failing the test if it is absent.
func metric(t *testing.T, h *servertest.Hub, name string) float64 {
	t.Helper()
	samples, _ := scrape(t, h)
	v, ok := samples[name]
	if !ok {
		t.Fatalf("/metrics: no sample %q", name)
	}
	return v
}

type readiness struct {
	Status string            `json:"status"`
	Node   string            `json:"node"`
	Checks map[string]string `json:"checks"`
	Down   []string          `json:"down"`
}

func readyz(t *testing.T, h *servertest.Hub) (int, readiness) {
	t.Helper()
	status, body := h.Do(t, "GET", "/readyz", "", nil)
	var r readiness
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("/readyz: body %q is not JSON: %v", body, err)
	}
	return status, r
}

func TestHealthAndReadiness(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, map[string]string{"HUB_NODE_ID": "hub-ready-1"})
		if status, body := h.Do(t, "GET", "/healthz", "", nil); status != http.StatusOK {
			t.Fatalf("/healthz: got %d %s, want 200", status, body)
		}
		status, r := readyz(t, h)
		if status != http.StatusOK {
			t.Fatalf("/readyz: got %d %+v, want 200", status, r)
		}
		if r.Node != "hub-ready-1" {
			t.Errorf("/readyz node: got %q, want %q", r.Node, "hub-ready-1")
		}
		for _, check := range []string{"store", "nats"} {
			if got := r.Checks[check]; got != "ok" {
				t.Errorf("/readyz check %q: got %q, want \"ok\"", check, got)
			}
		}
		if len(r.Down) != 0 {
			t.Errorf("/readyz down: got %v, want none", r.Down)
		}
	})
}

func TestMetrics(t *testing.T) {
	h := servertest.Start(t, servertest.Options{})
	alice := h.Register(t, "alice")
	room := h.CreateRoom(t, alice, "metrics", chat.KindPublic)

	samples, types := scrape(t, h)
	for name, typ := range map[string]string{
		"hub_connections":            "gauge",
		"hub_messages_stored_total":  "counter",
		"hub_send_duration_seconds":  "histogram",
		"hub_events_delivered_total": "counter",
	} {
		if got := types[name]; got != typ {
			t.Errorf("/metrics: %s has type %q, want %q", name, got, typ)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if got := samples["hub_messages_stored_total"]; got != 0 {
		t.Fatalf("hub_messages_stored_total on a new hub: got %v, want 0", got)
	}

	c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	c.Join(room.ID, -1)
	servertest.Eventually(t, "hub_connections is 1", func() bool { return metric(t, h, "hub_connections") == 1 })
	delivered := metric(t, h, "hub_events_delivered_total")

	c.Send(room.ID, "counted")
	c.Messages(1)
	if got := metric(t, h, "hub_messages_stored_total"); got != 1 {
		t.Errorf("hub_messages_stored_total after one send: got %v, want 1", got)
	}
	if got := metric(t, h, "hub_send_duration_seconds_count"); got != 1 {
		t.Errorf("hub_send_duration_seconds_count after one send: got %v, want 1", got)
	}
	if got := metric(t, h, "hub_events_delivered_total"); got <= delivered {
		t.Errorf("hub_events_delivered_total after a delivered message: got %v, want more than %v", got, delivered)
	}

	// A repeated client_msg_id stores nothing, so it is not counted.
	for range 2 {
		c.OK("send", map[string]any{"room": room.ID, "text": "once", "client_msg_id": "k"}, nil)
	}
	if got := metric(t, h, "hub_messages_stored_total"); got != 2 {
		t.Errorf("hub_messages_stored_total after a repeated send: got %v, want 2", got)
	}
	c.Close()
	servertest.Eventually(t, "hub_connections is 0", func() bool { return metric(t, h, "hub_connections") == 0 })
}

func TestBootstrapAdmin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		o := b.Options(t)
		o.DataDir = t.TempDir()
		login := func(h *servertest.Hub, password string) (int, chat.User) {
			t.Helper()
			status, body := h.Do(t, "POST", "/api/auth/login", "", map[string]string{"username": "root", "password": password})
			var r struct {
				User  chat.User `json:"user"`
				Token string    `json:"token"`
			}
			if status == http.StatusOK {
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatalf("login body %s: %v", body, err)
				}
				var me struct{ User chat.User }
				h.JSON(t, "GET", "/api/me", r.Token, nil, http.StatusOK, &me)
				if me.User != r.User {
					t.Fatalf("/api/me with the admin's token: got %+v, want %+v", me.User, r.User)
				}
			}
			return status, r.User
		}

		o.Env = map[string]string{"HUB_BOOTSTRAP_ADMIN": "root:supersecret1"}
		h := servertest.Start(t, o)
		status, root := login(h, "supersecret1")
		if status != http.StatusOK || root.Role != chat.RoleAdmin || root.Username != "root" {
			t.Fatalf("login as the bootstrap admin: got %d %+v, want 200 and role admin", status, root)
		}
		h.Stop()

		o.Env = map[string]string{"HUB_BOOTSTRAP_ADMIN": "root:supersecret2"}
		h2 := servertest.Start(t, o)
		status, root2 := login(h2, "supersecret2")
		if status != http.StatusOK || root2.Role != chat.RoleAdmin {
			t.Fatalf("login with the new password after restart: got %d %+v, want 200 and role admin", status, root2)
		}
		if root2.ID != root.ID {
			t.Errorf("admin after restart: got id %s, want the same account %s", root2.ID, root.ID)
		}
		if status, _ := login(h2, "supersecret1"); status != http.StatusUnauthorized {
			t.Errorf("login with the old password after restart: got %d, want 401", status)
		}
	})
}

// natsProc is a NATS server the test can stop and start again on one port.
type natsProc struct {
	t    *testing.T
	port int

	mu sync.Mutex // guards ns
	ns *natsserver.Server
}

// startNATS starts a NATS server on a free 127.0.0.1 port; it is shut down
// at cleanup (after any hub started later, which cleans up first).
func startNATS(t *testing.T) *natsProc {
	t.Helper()
	n := &natsProc{t: t, port: natsserver.RANDOM_PORT}
	n.start()
	n.port = n.ns.Addr().(*net.TCPAddr).Port
	t.Cleanup(n.stop)
	return n
}

func (n *natsProc) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func (n *natsProc) start() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ns != nil {
		n.t.Fatalf("nats: already running")
	}
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true})
	if err != nil {
		n.t.Fatalf("nats: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(servertest.Wait) {
		ns.Shutdown()
		n.t.Fatalf("nats: not ready on port %d within %v", n.port, servertest.Wait)
	}
	n.ns = ns
}

func (n *natsProc) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ns == nil {
		return
	}
	n.ns.Shutdown()
	n.ns.WaitForShutdown()
	n.ns = nil
}

// TestReadinessFollowsNATS: /readyz names NATS while it is away, and once it
// is back the hub is ready again and fan-out resumes, including the
// message stored while NATS was down.
func TestReadinessFollowsNATS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		n := startNATS(t)
		o := b.Options(t)
		o.NATSURL = n.URL()
		h := servertest.Start(t, o)
		alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
		room := h.CreateRoom(t, alice, "outage", chat.KindPublic)
		cb := h.Dial(t, servertest.DialOptions{Token: bob.Token})
		cb.Join(room.ID, -1)
		post := func(text string) (int, []byte) {
			return h.Do(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, map[string]any{"text": text})
		}
		if status, body := post("before"); status != http.StatusCreated {
			t.Fatalf("post before the outage: got %d %s, want 201", status, body)
		}
		if got := cb.Messages(1)[0]; got.Seq != 1 {
			t.Fatalf("first message: got seq %d, want 1", got.Seq)
		}
		if status, r := readyz(t, h); status != http.StatusOK {
			t.Fatalf("/readyz with NATS up: got %d %+v, want 200", status, r)
		}

		n.stop()
		var r readiness
		servertest.Eventually(t, "/readyz is 503 naming nats", func() bool {
			var status int
			status, r = readyz(t, h)
			return status == http.StatusServiceUnavailable && slices.Contains(r.Down, "nats")
		})
		if r.Checks["nats"] == "ok" || r.Checks["store"] != "ok" || slices.Contains(r.Down, "store") {
			t.Errorf("/readyz with NATS down: got %+v, want nats down and store ok", r)
		}
		// The store is up: a send is still stored and acknowledged.
		if status, body := post("during"); status != http.StatusCreated {
			t.Fatalf("post while NATS is down: got %d %s, want 201 (the store is up)", status, body)
		}

		n.start()
		servertest.Eventually(t, "/readyz is 200 again", func() bool {
			status, _ := readyz(t, h)
			return status == http.StatusOK
		})
		if status, body := post("after"); status != http.StatusCreated {
			t.Fatalf("post after NATS is back: got %d %s, want 201", status, body)
		}
		got := cb.Messages(2)
		if got[0].Seq != 2 || got[0].Text != "during" || got[1].Seq != 3 || got[1].Text != "after" {
			t.Fatalf("messages after the outage: got seqs %v (%q, %q), want 2 (during), 3 (after)",
				seqs(got), got[0].Text, got[1].Text)
		}
		cb.OK("ping", nil, nil)
		if extra := cb.Events(chat.EventMessage); len(extra) != 0 {
			t.Fatalf("got %d extra message events after the outage, want 0", len(extra))
		}
	})
}

// TestFanOutResumesAfterLongNATSOutage: more messages than one repair page
// (200) stored while NATS is away, in a room that was empty when its
// watcher joined, all reach the watcher once NATS is back (the reconnect
// asks for a repair pass), in order, and live delivery continues after
// them. The periodic pass is set far apart so that it does not repair the
// gap piecemeal during the outage.
func TestFanOutResumesAfterLongNATSOutage(t *testing.T) {
	n := startNATS(t)
	h := servertest.Start(t, servertest.Options{NATSURL: n.URL(), Env: map[string]string{
		"HUB_SEND_RATE": "100000/1s", "HUB_REPAIR_INTERVAL": "1h",
	}})
	alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
	room := h.CreateRoom(t, alice, "busy", chat.KindPublic)
	cb := h.Dial(t, servertest.DialOptions{Token: bob.Token})
	cb.Join(room.ID, -1)

	n.stop()
	servertest.Eventually(t, "/readyz is 503", func() bool {
		status, _ := readyz(t, h)
		return status == http.StatusServiceUnavailable
	})
	const during = 250
	for i := range during {
		h.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, map[string]any{"text": fmt.Sprintf("during %d", i)}, http.StatusCreated, nil)
	}
	n.start()
	servertest.Eventually(t, "/readyz is 200 again", func() bool {
		status, _ := readyz(t, h)
		return status == http.StatusOK
	})
	h.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, map[string]any{"text": "after"}, http.StatusCreated, nil)
	got := cb.Messages(during + 1)
	for i, m := range got {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d after the outage: got seq %d, want %d (every message once, in order)", i, m.Seq, i+1)
		}
	}
}
