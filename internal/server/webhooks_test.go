package server_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// webhookEnv is a hub with the bootstrap admin and retries quick enough
// for tests.
func webhookEnv() map[string]string {
	return map[string]string{
		"HUB_BOOTSTRAP_ADMIN":       adminEnv,
		"HUB_WEBHOOK_POLL_INTERVAL": "20ms",
		"HUB_WEBHOOK_RETRY_BASE":    "50ms",
		"HUB_WEBHOOK_RETRY_CAP":     "200ms",
		"HUB_WEBHOOK_TIMEOUT":       "5s",
	}
}

func rootToken(t *testing.T, h *servertest.Hub) string {
	t.Helper()
	return admin(t, h).Token
}

// hookJSON is a webhook as the API returns it.
type hookJSON struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Room   *string  `json:"room"`
	Secret *string  `json:"secret"`
}

func createHook(t *testing.T, h *servertest.Hub, token string, body map[string]any) hookJSON {
	t.Helper()
	var r struct{ Webhook hookJSON }
	h.JSON(t, "POST", "/api/webhooks", token, body, http.StatusCreated, &r)
	if r.Webhook.Secret == nil || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(*r.Webhook.Secret) {
		t.Fatalf("created webhook: got %+v, want a secret of 64 hex digits", r.Webhook)
	}
	return r.Webhook
}

// deliveryJSON is one entry of a webhook's delivery log.
type deliveryJSON struct {
	ID       string `json:"id"`
	Event    string `json:"event"`
	Status   string `json:"status"`
	Attempts []struct {
		N          int    `json:"n"`
		StatusCode int    `json:"status_code"`
		Error      string `json:"error"`
		Node       string `json:"node"`
	} `json:"attempts"`
	Body json.RawMessage `json:"body"`
}

func deliveryLog(t *testing.T, h *servertest.Hub, token, hookID string) []deliveryJSON {
	t.Helper()
	var r struct{ Deliveries []deliveryJSON }
	h.JSON(t, "GET", "/api/webhooks/"+hookID+"/deliveries", token, nil, http.StatusOK, &r)
	return r.Deliveries
}

func allDelivered(ds []deliveryJSON, n int) bool {
	if len(ds) != n {
		return false
	}
	for _, d := range ds {
		if d.Status != "delivered" {
			return false
		}
	}
	return true
}

// hookRequest is one POST a receiver got.
type hookRequest struct {
	Header http.Header
	Body   []byte
}

// hookReceiver is a webhook receiver: answer(n) is the status of its n-th
// request (from 1).
type hookReceiver struct {
	URL    string
	mu     sync.Mutex // guards reqs
	reqs   []hookRequest
	answer func(n int) int
}

func newHookReceiver(t *testing.T, answer func(n int) int) *hookReceiver {
	t.Helper()
	rc := &hookReceiver{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, hookRequest{Header: r.Header.Clone(), Body: body})
		n := len(rc.reqs)
		rc.mu.Unlock()
		w.WriteHeader(rc.answer(n))
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL + "/hook"
	return rc
}

func (rc *hookReceiver) requests() []hookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// validSignature checks X-Hub-Signature-256 the way a receiver would,
// without the hub's code.
func validSignature(secret string, r hookRequest) bool {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.Body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(want))
}

func TestWebhookRetriedUntilDelivered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, webhookEnv())
		root := rootToken(t, h)
		alice := h.Register(t, "alice")
		room := h.CreateRoom(t, alice, "hooked", chat.KindPublic)
		rc := newHookReceiver(t, func(n int) int {
			if n <= 3 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		hook := createHook(t, h, root, map[string]any{"url": rc.URL, "events": []string{"message"}, "room": room.ID})
		if hook.Room == nil || *hook.Room != room.ID || !slices.Equal(hook.Events, []string{"message"}) || hook.URL != rc.URL {
			t.Fatalf("created webhook: got %+v, want url %s, events [message], room %s", hook, rc.URL, room.ID)
		}

		c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
		m := c.Send(room.ID, "hello webhook")

		servertest.Eventually(t, "delivered", func() bool { return allDelivered(deliveryLog(t, h, root, hook.ID), 1) })
		reqs := rc.requests()
		if len(reqs) != 4 {
			t.Fatalf("requests at the receiver: got %d, want 4 (three refused, one accepted)", len(reqs))
		}
		last := reqs[3]
		if !validSignature(*hook.Secret, last) {
			t.Fatalf("fourth delivery: signature %q does not verify with the webhook's secret", last.Header.Get("X-Hub-Signature-256"))
		}
		id := last.Header.Get("X-Hub-Delivery")
		for i, r := range reqs {
			if got := r.Header.Get("X-Hub-Delivery"); got != id || !strings.HasPrefix(got, "evt_") {
				t.Fatalf("request %d: X-Hub-Delivery %q, want %q on every attempt", i+1, got, id)
			}
			if string(r.Body) != string(last.Body) || !validSignature(*hook.Secret, r) {
				t.Fatalf("request %d: body or signature differs from the last attempt's", i+1)
			}
		}
		var ev struct {
			ID, Type, Room string
			Data           chat.Message
		}
		if err := json.Unmarshal(last.Body, &ev); err != nil {
			t.Fatalf("delivery body %s: %v", last.Body, err)
		}
		if ev.ID != id || ev.Type != "message" || ev.Room != room.ID || ev.Data.ID != m.ID || ev.Data.Seq != m.Seq ||
			ev.Data.Text != "hello webhook" || ev.Data.From.ID != alice.User.ID {
			t.Fatalf("delivery body: got %s, want event %s: message %s from %s", last.Body, id, m.ID, alice.User.ID)
		}
		if got := last.Header.Get("X-Hub-Event"); got != "message" {
			t.Fatalf("X-Hub-Event: got %q, want message", got)
		}

		d := deliveryLog(t, h, root, hook.ID)[0]
		codes := []int{}
		for _, a := range d.Attempts {
			codes = append(codes, a.StatusCode)
		}
		if d.ID != id || d.Event != "message" || !slices.Equal(codes, []int{503, 503, 503, 200}) || string(d.Body) != string(last.Body) {
			t.Fatalf("delivery log: got %s %s statuses %v, want %s message [503 503 503 200] with the body sent", d.ID, d.Event, codes, id)
		}
	})
}

// The outbox is in the store: a hub stopped between two attempts loses
// nothing, and a new hub on the same store delivers the same event.
func TestWebhookSurvivesRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		o := b.Options(t)
		o.DataDir = t.TempDir() // the embedded store outlives the first hub
		o.Env = webhookEnv()
		var accept atomic.Bool
		rc := newHookReceiver(t, func(int) int {
			if accept.Load() {
				return http.StatusNoContent
			}
			return http.StatusInternalServerError
		})

		first := servertest.Start(t, o)
		root := rootToken(t, first)
		alice := first.Register(t, "alice")
		room := first.CreateRoom(t, alice, "durable", chat.KindPublic)
		hook := createHook(t, first, root, map[string]any{"url": rc.URL, "events": []string{"message"}})
		if hook.Room != nil {
			t.Fatalf("webhook without a room: got room %q, want null", *hook.Room)
		}
		first.Dial(t, servertest.DialOptions{Token: alice.Token}).Send(room.ID, "survive this")
		servertest.Eventually(t, "a first failed attempt", func() bool { return len(rc.requests()) >= 1 })
		first.Stop()
		before := rc.requests()
		id := before[0].Header.Get("X-Hub-Delivery")

		second := servertest.Start(t, o)
		accept.Store(true)
		servertest.Eventually(t, "delivered by the new hub", func() bool {
			return allDelivered(deliveryLog(t, second, root, hook.ID), 1)
		})
		reqs := rc.requests()
		last := reqs[len(reqs)-1]
		if len(reqs) <= len(before) || last.Header.Get("X-Hub-Delivery") != id || !validSignature(*hook.Secret, last) ||
			string(last.Body) != string(before[0].Body) {
			t.Fatalf("after the restart: %d requests (%d before), last %q, want a later one for %s with the same signed body",
				len(reqs), len(before), last.Header.Get("X-Hub-Delivery"), id)
		}
		d := deliveryLog(t, second, root, hook.ID)[0]
		firstNode, lastNode := d.Attempts[0].Node, d.Attempts[len(d.Attempts)-1].Node
		if len(d.Attempts) != len(reqs) || firstNode == lastNode {
			t.Fatalf("attempt log: got %d attempts from %s to %s, want %d, the last by the new hub", len(d.Attempts), firstNode, lastNode, len(reqs))
		}
	})
}

func TestWebhookTwoHubsDeliverEachEventOnce(t *testing.T) {
	const messages = 12
	a, b := twoHubs(t, webhookEnv())
	root := rootToken(t, a)
	alice := a.Register(t, "alice")
	room := a.CreateRoom(t, alice, "both", chat.KindPublic)
	rc := newHookReceiver(t, func(int) int { return http.StatusOK })
	hook := createHook(t, a, root, map[string]any{"url": rc.URL, "events": []string{"message"}})
	for i := range messages {
		hub := []*servertest.Hub{a, b}[i%2]
		hub.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, map[string]any{"text": fmt.Sprintf("m%d", i)}, http.StatusCreated, nil)
	}
	servertest.Eventually(t, "all delivered", func() bool { return allDelivered(deliveryLog(t, b, root, hook.ID), messages) })
	// Each delivery is marked delivered only after its POST was answered,
	// so every POST either hub will ever make has arrived by now.
	count := map[string]int{}
	for _, r := range rc.requests() {
		count[r.Header.Get("X-Hub-Delivery")]++
	}
	if len(count) != messages {
		t.Fatalf("distinct events at the receiver: got %d, want %d", len(count), messages)
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("event %s: received %d times, want exactly once", id, n)
		}
	}
	for _, d := range deliveryLog(t, a, root, hook.ID) {
		if len(d.Attempts) != 1 {
			t.Errorf("delivery %s: got %d attempts, want 1", d.ID, len(d.Attempts))
		}
	}
}

func TestWebhookBadInputStoresNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, webhookEnv())
		root := rootToken(t, h)
		tests := []struct {
			name string
			body any
			msg  string // the start of the error message
		}{
			{"no url", map[string]any{"events": []string{"message"}}, "url: required"},
			{"relative url", map[string]any{"url": "/hook", "events": []string{"message"}}, "url: must be an absolute http or https URL"},
			{"ftp url", map[string]any{"url": "ftp://example.com/", "events": []string{"message"}}, "url: scheme must be http or https"},
			{"url with user info", map[string]any{"url": "https://u:p@example.com/", "events": []string{"message"}}, "url: must not contain user info"},
			{"url not a string", map[string]any{"url": 7, "events": []string{"message"}}, "invalid JSON body"},
			{"no events", map[string]any{"url": "https://example.com/"}, "events: at least one of"},
			{"empty events", map[string]any{"url": "https://example.com/", "events": []string{}}, "events: at least one of"},
			{"unknown event", map[string]any{"url": "https://example.com/", "events": []string{"message", "typing"}}, `events[1]: unknown event type "typing"`},
			{"events not a list", map[string]any{"url": "https://example.com/", "events": "message"}, "invalid JSON body"},
			{"unknown room", map[string]any{"url": "https://example.com/", "events": []string{"message"}, "room": "r_nope"}, "room: no such room"},
			{"empty room", map[string]any{"url": "https://example.com/", "events": []string{"message"}, "room": ""}, "room: must be a room id"},
			{"bad JSON", `{"url": "https://example.com/",`, "invalid JSON body"},
			{"not an object", `["https://example.com/"]`, "invalid JSON body"},
			{"empty body", "", "request body must be a JSON object"},
		}
		for _, tt := range tests {
			status, body := h.Do(t, "POST", "/api/webhooks", root, tt.body)
			var e struct{ Error chat.Error }
			_ = json.Unmarshal(body, &e)
			if status != http.StatusBadRequest || e.Error.Code != chat.CodeBadRequest || !strings.HasPrefix(e.Error.Message, tt.msg) {
				t.Errorf("POST /api/webhooks (%s): got %d %s, want 400 bad_request %q…", tt.name, status, body, tt.msg)
			}
		}
		var list struct{ Webhooks []hookJSON }
		h.JSON(t, "GET", "/api/webhooks", root, nil, http.StatusOK, &list)
		if list.Webhooks == nil || len(list.Webhooks) != 0 {
			t.Fatalf("webhooks after bad input: got %+v, want an empty list", list.Webhooks)
		}

		for _, req := range []struct{ method, path string }{
			{"GET", "/api/webhooks/wh_nope"},
			{"DELETE", "/api/webhooks/wh_nope"},
			{"GET", "/api/webhooks/wh_nope/deliveries"},
		} {
			status, body := h.Do(t, req.method, req.path, root, nil)
			if status != http.StatusNotFound || servertest.ErrorCode(t, body) != chat.CodeNotFound {
				t.Errorf("%s %s: got %d %s, want 404 not_found", req.method, req.path, status, body)
			}
		}
		hook := createHook(t, h, root, map[string]any{"url": "http://127.0.0.1:1/never", "events": []string{"message"}})
		for _, q := range []string{"?limit=-1", "?limit=x", "?before=evt_nope"} {
			status, body := h.Do(t, "GET", "/api/webhooks/"+hook.ID+"/deliveries"+q, root, nil)
			if status != http.StatusBadRequest || servertest.ErrorCode(t, body) != chat.CodeBadRequest {
				t.Errorf("GET …/deliveries%s: got %d %s, want 400 bad_request", q, status, body)
			}
		}
	})
}

// The lifecycle: the secret is shown once, the list and reads leave it
// out, member events carry the member, and a deleted webhook gets no more
// attempts.
func TestWebhookLifecycle(t *testing.T) {
	h := servertest.Start(t, servertest.Options{Env: webhookEnv()})
	root := rootToken(t, h)
	alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
	room := h.CreateRoom(t, alice, "club", chat.KindPrivate)
	failing := newHookReceiver(t, func(int) int { return http.StatusInternalServerError })
	members := newHookReceiver(t, func(int) int { return http.StatusOK })
	doomed := createHook(t, h, root, map[string]any{"url": failing.URL, "events": []string{"message"}})
	hook := createHook(t, h, root, map[string]any{"url": members.URL, "events": []string{"member_removed", "member_added", "member_added"}, "room": room.ID})
	if !slices.Equal(hook.Events, []string{"member_added", "member_removed"}) {
		t.Fatalf("events: got %v, want [member_added member_removed] (once each, in order)", hook.Events)
	}

	var got struct{ Webhook hookJSON }
	h.JSON(t, "GET", "/api/webhooks/"+hook.ID, root, nil, http.StatusOK, &got)
	if got.Webhook.ID != hook.ID || got.Webhook.Secret != nil || got.Webhook.URL != members.URL {
		t.Fatalf("GET webhook: got %+v, want it without its secret", got.Webhook)
	}
	var list struct{ Webhooks []hookJSON }
	h.JSON(t, "GET", "/api/webhooks", root, nil, http.StatusOK, &list)
	if len(list.Webhooks) != 2 || list.Webhooks[0].ID != doomed.ID || list.Webhooks[1].ID != hook.ID ||
		list.Webhooks[0].Secret != nil || list.Webhooks[1].Secret != nil {
		t.Fatalf("list: got %+v, want both, oldest first, without secrets", list.Webhooks)
	}

	h.JSON(t, "POST", "/api/rooms/"+room.ID+"/members", alice.Token, map[string]string{"user_id": bob.User.ID}, http.StatusCreated, nil)
	h.JSON(t, "DELETE", "/api/rooms/"+room.ID+"/members/"+bob.User.ID, alice.Token, nil, http.StatusNoContent, nil)
	servertest.Eventually(t, "member events delivered", func() bool { return len(members.requests()) == 2 })
	// Deliveries are not ordered (two workers may POST at once): match
	// each event by its type.
	seen := map[string]int{}
	for _, r := range members.requests() {
		var ev struct {
			Type, Room string
			Data       struct {
				User chat.User
				Role string
			}
		}
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Room != room.ID || ev.Data.User != bob.User || ev.Data.Role != "member" || !validSignature(*hook.Secret, r) {
			t.Fatalf("event %s: got %s, want it signed, of %+v as member in %s", ev.Type, r.Body, bob.User, room.ID)
		}
		seen[ev.Type]++
	}
	if seen["member_added"] != 1 || seen["member_removed"] != 1 {
		t.Fatalf("member events: got %v, want one member_added and one member_removed", seen)
	}

	// A message only the failing webhook receives; once it has been tried,
	// delete the webhook. A later message must then reach nobody.
	h.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, map[string]any{"text": "one"}, http.StatusCreated, nil)
	servertest.Eventually(t, "a failed attempt", func() bool { return len(failing.requests()) >= 1 })
	h.JSON(t, "DELETE", "/api/webhooks/"+doomed.ID, root, nil, http.StatusNoContent, nil)
	atDelete := len(failing.requests())
	status, _ := h.Do(t, "GET", "/api/webhooks/"+doomed.ID+"/deliveries", root, nil)
	if status != http.StatusNotFound {
		t.Fatalf("delivery log of a deleted webhook: got %d, want 404", status)
	}
	// The member webhook still works, and by the time its next event is
	// through, the deleted one would have been retried several times.
	h.JSON(t, "POST", "/api/rooms/"+room.ID+"/members", alice.Token, map[string]string{"user_id": bob.User.ID}, http.StatusCreated, nil)
	servertest.Eventually(t, "the next member event", func() bool { return allDelivered(deliveryLog(t, h, root, hook.ID), 3) })
	h.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, map[string]any{"text": "two"}, http.StatusCreated, nil)
	h.JSON(t, "DELETE", "/api/rooms/"+room.ID+"/members/"+bob.User.ID, alice.Token, nil, http.StatusNoContent, nil)
	servertest.Eventually(t, "the last member event", func() bool { return allDelivered(deliveryLog(t, h, root, hook.ID), 4) })
	// One attempt may have been in flight when the delete returned.
	if n := len(failing.requests()); n > atDelete+1 {
		t.Fatalf("attempts at the deleted webhook: got %d, want at most %d (%d at delete, one in flight)", n, atDelete+1, atDelete)
	}

	// Both registrations and the delete are in the audit log.
	var audit struct{ Entries []chat.AuditEntry }
	h.JSON(t, "GET", "/api/admin/audit", root, nil, http.StatusOK, &audit)
	var trail []string
	for _, e := range audit.Entries {
		if strings.HasPrefix(e.Action, "webhook.") {
			trail = append(trail, e.Action+" "+e.Target+" "+string(e.Detail))
		}
	}
	want := []string{
		"webhook.delete " + doomed.ID + " {}",
		"webhook.create " + hook.ID + ` {"events":["member_added","member_removed"],"room":"` + room.ID + `","url":"` + members.URL + `"}`,
		"webhook.create " + doomed.ID + ` {"events":["message"],"room":null,"url":"` + failing.URL + `"}`,
	}
	if !slices.Equal(trail, want) {
		t.Fatalf("audit trail:\n got %q\nwant %q", trail, want)
	}
}
