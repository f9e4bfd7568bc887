package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// craftToken signs claims with method and key, for forged-token tests.
func craftToken(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func TestBadTokens(t *testing.T) {
	h := servertest.Start(t, servertest.Options{})
	alice := h.Register(t, "alice")
	now := time.Now()
	good := jwt.MapClaims{"sub": alice.User.ID, "iss": "pawfect-hub", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	secret := []byte(servertest.Secret)
	noneToken := craftToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good)
	tokens := map[string]string{
		"malformed":         "not.a.jwt",
		"alg none":          noneToken,
		"other key":         craftToken(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-0123456789"), good),
		"other algorithm":   craftToken(t, jwt.SigningMethodHS512, secret, good),
		"expired":           craftToken(t, jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Hour).Unix())),
		"no exp":            craftToken(t, jwt.SigningMethodHS256, secret, with("exp", nil)),
		"wrong issuer":      craftToken(t, jwt.SigningMethodHS256, secret, with("iss", "someone-else")),
		"unknown account":   craftToken(t, jwt.SigningMethodHS256, secret, with("sub", "usr_nobody")),
		"empty bearer text": " ",
	}
	// The control: the same claims, correctly signed, are accepted.
	h.JSON(t, "GET", "/api/me", craftToken(t, jwt.SigningMethodHS256, secret, good), nil, http.StatusOK, nil)

	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			status, body := h.Do(t, "GET", "/api/me", tok, nil)
			if status != http.StatusUnauthorized || servertest.ErrorCode(t, body) != chat.CodeUnauthorized {
				t.Fatalf("http: got %d %s, want 401 unauthorized", status, body)
			}
			if strings.TrimSpace(tok) == "" {
				return
			}
			c := h.Dial(t, servertest.DialOptions{})
			c.Fail("auth", map[string]any{"token": tok}, chat.CodeUnauthorized)
			if code := c.Closed(); code != chat.CloseUnauthorized {
				t.Fatalf("close after bad auth: got %d, want %d", code, chat.CloseUnauthorized)
			}
			if _, status, err := h.TryDial(t, servertest.DialOptions{Token: tok}); err == nil || status != http.StatusUnauthorized {
				t.Fatalf("handshake with bad token: got status %d err %v, want 401", status, err)
			}
		})
	}
}

func TestCommandsBeforeAuth(t *testing.T) {
	h := servertest.Start(t, servertest.Options{Env: map[string]string{"HUB_AUTH_TIMEOUT": "2s"}})
	alice := h.Register(t, "alice")
	room := h.CreateRoom(t, alice, "r", chat.KindPublic)
	c := h.Dial(t, servertest.DialOptions{})
	for _, cmd := range []struct {
		typ    string
		fields map[string]any
	}{
		{"join", map[string]any{"room": room.ID}},
		{"send", map[string]any{"room": room.ID, "text": "sneaky"}},
		{"history", map[string]any{"room": room.ID}},
		{"ping", nil},
	} {
		c.Fail(cmd.typ, cmd.fields, chat.CodeUnauthorized)
	}
	// The connection stays usable: auth now works.
	c.Auth(alice.Token)
	if j := c.Join(room.ID, -1); len(j.Messages) != 0 {
		t.Fatalf("the unauthenticated send was stored: %+v", j.Messages)
	}

	// No auth at all: closed with 4001 after the auth timeout.
	idle := h.Dial(t, servertest.DialOptions{})
	if code := idle.Closed(); code != chat.CloseUnauthorized {
		t.Fatalf("no auth: got close %d, want %d", code, chat.CloseUnauthorized)
	}
}

func TestBadCommands(t *testing.T) {
	h := servertest.Start(t, servertest.Options{Env: map[string]string{"HUB_MAX_MESSAGE_CHARS": "100", "HUB_MAX_FRAME_BYTES": "2048"}})
	alice := h.Register(t, "alice")
	room := h.CreateRoom(t, alice, "r", chat.KindPublic)
	c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	c.Join(room.ID, -1)

	raw := []struct {
		name   string
		frame  string
		wantID int64
	}{
		{"invalid JSON", `{"id": 3, "type": `, 0},
		{"unknown command", `{"id":4,"type":"teleport"}`, 4},
		{"missing room", `{"id":5,"type":"send","text":"x"}`, 5},
		{"missing text", `{"id":6,"type":"send","room":"` + room.ID + `"}`, 6},
		{"wrong type keeps id", `{"id":7,"type":"send","room":"` + room.ID + `","text":42}`, 7},
	}
	for _, tt := range raw {
		if err := c.SendRaw([]byte(tt.frame)); err != nil {
			t.Fatal(err)
		}
		f := c.Reply(tt.wantID)
		if f.OK || f.Error == nil || f.Error.Code != chat.CodeBadRequest {
			t.Errorf("%s: got %s, want bad_request for id %d", tt.name, f.Raw, tt.wantID)
		}
		// each error reply is consumed so the next id-0 reply is fresh
		c.DropReply(tt.wantID)
	}
	c.Fail("send", map[string]any{"room": room.ID, "text": "   "}, chat.CodeBadRequest)
	c.Fail("send", map[string]any{"room": room.ID, "text": strings.Repeat("é", 101)}, chat.CodeTooLarge)
	c.Fail("send", map[string]any{"room": room.ID, "text": "x", "reply_to": 99}, chat.CodeBadRequest)
	c.Fail("send", map[string]any{"room": "r_nope", "text": "x"}, chat.CodeNotFound)
	c.Fail("history", map[string]any{"room": room.ID, "limit": -5}, chat.CodeBadRequest)
	c.Fail("join", map[string]any{"room": room.ID, "since": -1}, chat.CodeBadRequest)

	// Nothing above was stored; the connection still works.
	if m := c.Send(room.ID, strings.Repeat("é", 100)); m.Seq != 1 {
		t.Fatalf("first stored message: got seq %d, want 1", m.Seq)
	}

	// A frame over the limit closes the connection with 1009.
	if err := c.SendRaw([]byte(`{"id":99,"type":"send","room":"` + room.ID + `","text":"` + strings.Repeat("a", 4096) + `"}`)); err != nil {
		t.Fatal(err)
	}
	if code := c.Closed(); code != websocket.StatusMessageTooBig {
		t.Fatalf("oversized frame: got close %d, want %d", code, websocket.StatusMessageTooBig)
	}
	c2 := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	if j := c2.Join(room.ID, 0); len(j.Messages) != 1 {
		t.Fatalf("after the oversized frame: got %d messages, want 1", len(j.Messages))
	}

	// HTTP: the same rules, as JSON errors.
	for _, tt := range []struct {
		name string
		body any
		want int
		code chat.Code
	}{
		{"bad JSON", `{"text":`, http.StatusBadRequest, chat.CodeBadRequest},
		{"no text", map[string]any{}, http.StatusBadRequest, chat.CodeBadRequest},
		{"empty text", map[string]any{"text": " \n "}, http.StatusBadRequest, chat.CodeBadRequest},
		{"too long", map[string]any{"text": strings.Repeat("x", 101)}, http.StatusRequestEntityTooLarge, chat.CodeTooLarge},
	} {
		status, body := h.Do(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, tt.body)
		if status != tt.want || servertest.ErrorCode(t, body) != tt.code {
			t.Errorf("http %s: got %d %s, want %d %s", tt.name, status, body, tt.want, tt.code)
		}
	}
}

func TestPrivateRoomsAreInvisible(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, nil)
		alice, bob, eve := h.Register(t, "alice"), h.Register(t, "bob"), h.Register(t, "eve")
		room := h.CreateRoom(t, alice, "secret", chat.KindPrivate, bob.User.ID)
		ca := h.Dial(t, servertest.DialOptions{Token: alice.Token})
		ca.Send(room.ID, "for members only")

		for _, tt := range []struct{ method, path string }{
			{"GET", "/api/rooms/" + room.ID},
			{"GET", "/api/rooms/" + room.ID + "/messages"},
		} {
			status, body := h.Do(t, tt.method, tt.path, eve.Token, nil)
			if status != http.StatusNotFound || servertest.ErrorCode(t, body) != chat.CodeNotFound {
				t.Errorf("eve %s %s: got %d %s, want 404", tt.method, tt.path, status, body)
			}
		}
		status, body := h.Do(t, "POST", "/api/rooms/"+room.ID+"/messages", eve.Token, map[string]any{"text": "let me in"})
		if status != http.StatusNotFound {
			t.Errorf("eve posts: got %d %s, want 404", status, body)
		}
		status, _ = h.Do(t, "POST", "/api/rooms/"+room.ID+"/members", eve.Token, map[string]any{"user_id": eve.User.ID})
		if status != http.StatusNotFound {
			t.Errorf("eve adds herself: got %d, want 404", status)
		}
		var list struct{ Rooms []chat.Room }
		h.JSON(t, "GET", "/api/rooms", eve.Token, nil, http.StatusOK, &list)
		for _, r := range list.Rooms {
			if r.ID == room.ID {
				t.Errorf("eve's room list holds the private room")
			}
		}
		ce := h.Dial(t, servertest.DialOptions{Token: eve.Token})
		ce.Fail("join", map[string]any{"room": room.ID}, chat.CodeNotFound)
		ce.Fail("history", map[string]any{"room": room.ID}, chat.CodeNotFound)
		ce.Fail("send", map[string]any{"room": room.ID, "text": "x"}, chat.CodeNotFound)
		ce.Fail("typing", map[string]any{"room": room.ID, "active": true}, chat.CodeNotFound)

		// Bob is a member; once removed, his open connection leaves at once
		// and he can no longer read or post.
		cb := h.Dial(t, servertest.DialOptions{Token: bob.Token})
		if j := cb.Join(room.ID, -1); len(j.Messages) != 1 {
			t.Fatalf("bob's join: got %d messages, want 1", len(j.Messages))
		}
		var detail struct {
			Members []chat.Member `json:"members"`
		}
		h.JSON(t, "GET", "/api/rooms/"+room.ID, bob.Token, nil, http.StatusOK, &detail)
		if len(detail.Members) != 2 || detail.Members[0].Role != chat.MemberOwner || detail.Members[0].User.ID != alice.User.ID {
			t.Fatalf("members: got %+v, want alice (owner) and bob", detail.Members)
		}
		status, _ = h.Do(t, "DELETE", "/api/rooms/"+room.ID+"/members/"+alice.User.ID, bob.Token, nil)
		if status != http.StatusForbidden {
			t.Fatalf("bob removes the owner: got %d, want 403", status)
		}
		h.JSON(t, "DELETE", "/api/rooms/"+room.ID+"/members/"+bob.User.ID, alice.Token, nil, http.StatusNoContent, nil)
		var left chat.LeftEvent
		cb.Next(chat.EventLeft).Decode(t, &left)
		if left.Room != room.ID || left.Reason == "" {
			t.Fatalf("left event: got %+v", left)
		}
		ca.Send(room.ID, "bob is gone")
		cb.OK("ping", nil, nil)
		if n := len(cb.Events(chat.EventMessage)); n != 0 {
			t.Fatalf("bob got %d message events after removal, want 0", n)
		}
		cb.Fail("send", map[string]any{"room": room.ID, "text": "still here?"}, chat.CodeNotFound)
		cb.Fail("join", map[string]any{"room": room.ID}, chat.CodeNotFound)

		// Guests may not create rooms.
		g := h.Guest(t, "visitor")
		status, body = h.Do(t, "POST", "/api/rooms", g.Token, map[string]any{"name": "mine", "kind": "public"})
		if status != http.StatusForbidden || servertest.ErrorCode(t, body) != chat.CodeForbidden {
			t.Fatalf("guest creates a room: got %d %s, want 403", status, body)
		}
	})
}

func TestOriginAndHostChecks(t *testing.T) {
	h := servertest.Start(t, servertest.Options{Env: map[string]string{"HUB_ALLOWED_ORIGINS": "https://app.example.com"}})
	alice := h.Register(t, "alice")
	for _, tt := range []struct {
		name       string
		origin     string
		host       string
		wantStatus int
	}{
		{"no origin (bot)", "", "", http.StatusSwitchingProtocols},
		{"own origin", h.URL, "", http.StatusSwitchingProtocols},
		{"extra allowed origin", "https://app.example.com", "", http.StatusSwitchingProtocols},
		{"foreign origin", "https://evil.example", "", http.StatusForbidden},
		{"own origin, rebinding host", h.URL, "evil.example:80", http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, status, err := h.TryDial(t, servertest.DialOptions{Token: alice.Token, Origin: tt.origin, Host: tt.host})
			if status != tt.wantStatus {
				t.Fatalf("got status %d (err %v), want %d", status, err, tt.wantStatus)
			}
			if c != nil {
				c.OK("ping", nil, nil)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	h := servertest.Start(t, servertest.Options{Env: map[string]string{"HUB_SEND_RATE": "5/1m"}})
	alice := h.Register(t, "alice")
	room := h.CreateRoom(t, alice, "r", chat.KindPublic)
	c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	for i := range 3 {
		c.Send(room.ID, "ws "+string(rune('a'+i)))
	}
	for range 2 {
		h.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, map[string]any{"text": "http"}, http.StatusCreated, nil)
	}
	f := c.Fail("send", map[string]any{"room": room.ID, "text": "one too many"}, chat.CodeRateLimited)
	if f.Error.RetryAfter <= 0 {
		t.Fatalf("rate_limited without retry_after_ms: %s", f.Raw)
	}
	status, body := h.Do(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, map[string]any{"text": "http too"})
	if status != http.StatusTooManyRequests || servertest.ErrorCode(t, body) != chat.CodeRateLimited {
		t.Fatalf("http over the limit: got %d %s, want 429", status, body)
	}
	// Another user has a budget of their own.
	bob := h.Register(t, "bob")
	h.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", bob.Token, map[string]any{"text": "bob"}, http.StatusCreated, nil)
	var hist struct{ Messages []chat.Message }
	h.JSON(t, "GET", "/api/rooms/"+room.ID+"/messages", alice.Token, nil, http.StatusOK, &hist)
	if len(hist.Messages) != 6 {
		t.Fatalf("stored: got %d messages, want 6 (5 of alice's, 1 of bob's)", len(hist.Messages))
	}
}

func TestJoinedRoomLimit(t *testing.T) {
	h := servertest.Start(t, servertest.Options{Env: map[string]string{"HUB_MAX_JOINED_ROOMS": "2"}})
	alice := h.Register(t, "alice")
	c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		ids = append(ids, h.CreateRoom(t, alice, n, chat.KindPublic).ID)
	}
	c.Join(ids[0], -1)
	c.Join(ids[1], -1)
	c.Fail("join", map[string]any{"room": ids[2]}, chat.CodeConflict)
	c.OK("leave", map[string]any{"room": ids[0]}, nil)
	c.Join(ids[2], -1)
}

func TestGracefulShutdownClosesWith1001(t *testing.T) {
	h := servertest.Start(t, servertest.Options{})
	alice := h.Register(t, "alice")
	c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	c.OK("ping", nil, nil)
	h.Stop()
	if code := c.Closed(); code != websocket.StatusGoingAway {
		t.Fatalf("close on shutdown: got %d, want %d", code, websocket.StatusGoingAway)
	}
}

func TestLoginAttemptsAreLimited(t *testing.T) {
	h := servertest.Start(t, servertest.Options{})
	alice := h.Register(t, "alice")
	wrong := map[string]string{"username": alice.User.Username, "password": "not the password"}
	for i := range 10 {
		status, body := h.Do(t, "POST", "/api/auth/login", "", wrong)
		if status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: got %d %s, want 401", i+1, status, body)
		}
	}
	right := map[string]string{"username": alice.User.Username, "password": "correct horse battery"}
	status, body := h.Do(t, "POST", "/api/auth/login", "", right)
	if status != http.StatusTooManyRequests || servertest.ErrorCode(t, body) != chat.CodeRateLimited {
		t.Fatalf("11th attempt: got %d %s, want 429 rate_limited", status, body)
	}
}

func TestInvalidUTF8IsRefused(t *testing.T) {
	h := servertest.Start(t, servertest.Options{})
	alice := h.Register(t, "alice")
	room := h.CreateRoom(t, alice, "r", chat.KindPublic)
	status, body := h.Do(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, "{\"text\":\"bad \xff byte\"}")
	if status != http.StatusBadRequest || servertest.ErrorCode(t, body) != chat.CodeBadRequest {
		t.Fatalf("http: got %d %s, want 400 bad_request", status, body)
	}
	c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	// A text frame with invalid UTF-8 breaks RFC 6455; the hub answers it
	// with bad_request (or the library closes the connection), and stores
	// nothing either way.
	if err := c.SendRaw([]byte("{\"id\":5,\"type\":\"send\",\"room\":\"" + room.ID + "\",\"text\":\"bad \xff\"}")); err != nil {
		t.Fatal(err)
	}
	if f := c.Reply(5); f.OK || f.Error.Code != chat.CodeBadRequest {
		t.Fatalf("ws: got %s, want bad_request", f.Raw)
	}
	var hist struct{ Messages []chat.Message }
	h.JSON(t, "GET", "/api/rooms/"+room.ID+"/messages", alice.Token, nil, http.StatusOK, &hist)
	if len(hist.Messages) != 0 {
		t.Fatalf("stored %d messages, want 0", len(hist.Messages))
	}
}

func TestJoinSinceBeyondLastSeq(t *testing.T) {
	h := servertest.Start(t, servertest.Options{})
	alice := h.Register(t, "alice")
	room := h.CreateRoom(t, alice, "r", chat.KindPublic)
	c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	c.Send(room.ID, "one")
	j := c.Join(room.ID, 100000) // a stale or foreign seq
	if len(j.Messages) != 0 || j.Room.LastSeq != 1 {
		t.Fatalf("join since 100000: got %d messages, last_seq %d; want 0 and 1", len(j.Messages), j.Room.LastSeq)
	}
	c.Send(room.ID, "two")
	if got := c.Messages(1)[0]; got.Seq != 2 {
		t.Fatalf("next event: got seq %d, want 2", got.Seq)
	}
}

func TestGuestWithEmptyBody(t *testing.T) {
	h := servertest.Start(t, servertest.Options{})
	for _, body := range []any{nil, "", "{}"} {
		var r struct{ User chat.User }
		h.JSON(t, "POST", "/api/auth/guest", "", body, http.StatusCreated, &r)
		if r.User.Role != chat.RoleGuest {
			t.Fatalf("guest with body %q: got role %q", body, r.User.Role)
		}
	}
}

// TestRetryAtTheRateLimitGetsTheOriginal: a repeated send returns the
// original message even when its sender is over the limit.
func TestRetryAtTheRateLimitGetsTheOriginal(t *testing.T) {
	h := servertest.Start(t, servertest.Options{Env: map[string]string{"HUB_SEND_RATE": "2/1m"}})
	alice := h.Register(t, "alice")
	room := h.CreateRoom(t, alice, "r", chat.KindPublic)
	c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	var first struct{ Message chat.Message }
	c.OK("send", map[string]any{"room": room.ID, "text": "one", "client_msg_id": "k1"}, &first)
	c.OK("send", map[string]any{"room": room.ID, "text": "two", "client_msg_id": "k2"}, nil)
	var retry struct{ Message chat.Message }
	c.OK("send", map[string]any{"room": room.ID, "text": "one", "client_msg_id": "k1"}, &retry)
	if retry.Message.ID != first.Message.ID || retry.Message.Seq != 1 {
		t.Fatalf("retry at the limit: got %+v, want the original %+v", retry.Message, first.Message)
	}
	c.Fail("send", map[string]any{"room": room.ID, "text": "three", "client_msg_id": "k3"}, chat.CodeRateLimited)
}
