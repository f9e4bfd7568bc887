package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/config"
	"github.com/pawfect/hub/internal/redistest"
	"github.com/pawfect/hub/internal/server"
	"github.com/pawfect/hub/internal/server/servertest"
)

// redisHubs starts two hubs that form one service over PostgreSQL, NATS
// and Redis. Their Redis keys (under the shared prefix) are deleted once
// both have stopped.
func redisHubs(t *testing.T, env map[string]string) (*servertest.Hub, *servertest.Hub) {
	t.Helper()
	o := servertest.Options{RedisURL: servertest.RequireRedis(t), Prefix: servertest.UniquePrefix(), Env: env}
	redistest.Clean(t, o.RedisURL, o.Prefix) // registered first, so it runs after the hubs stop
	return startPair(t, o)
}

// presenceOf returns the states of user's presence events queued on c, in
// order, without removing them.
func presenceOf(t *testing.T, c *servertest.Client, userID string) []string {
	t.Helper()
	var states []string
	for _, f := range c.Events(chat.EventPresence) {
		var ev chat.PresenceEvent
		f.Decode(t, &ev)
		if ev.User.ID == userID {
			states = append(states, ev.State)
		}
	}
	return states
}

// typingBarrier makes from (whose hub published any earlier event of the
// room on the bus) send a typing event and waits until to receives it: the
// events from's hub published before it have then reached to too.
func typingBarrier(t *testing.T, from, to *servertest.Client, fromUser, room string) {
	t.Helper()
	from.OK("typing", map[string]any{"room": room, "active": true}, nil)
	for {
		var ev chat.TypingEvent
		to.Next(chat.EventTyping).Decode(t, &ev)
		if ev.User.ID == fromUser {
			return
		}
	}
}

func onlineIDs(users []chat.User) []string {
	ids := make([]string, 0, len(users))
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestRedisPresenceAcrossHubs: with presence in Redis, a user connected to
// both hubs is announced online once, and offline only when the last of
// their connections, on either hub, leaves; a join reply on one hub lists
// users connected only to the other.
func TestRedisPresenceAcrossHubs(t *testing.T) {
	a, b := redisHubs(t, nil)
	alice, bob, carol := a.Register(t, "alice"), a.Register(t, "bob"), a.Register(t, "carol")
	room := a.CreateRoom(t, alice, "shared", chat.KindPrivate, bob.User.ID, carol.User.ID)

	watcher := a.Dial(t, servertest.DialOptions{Token: alice.Token})
	watcher.Join(room.ID, -1)
	carolA := a.Dial(t, servertest.DialOptions{Token: carol.Token}) // publishes barriers on A
	carolA.Join(room.ID, -1)

	bobA := a.Dial(t, servertest.DialOptions{Token: bob.Token})
	bobA.Join(room.ID, -1)

	// Join reply on B: alice and carol are connected only to A.
	bobB := b.Dial(t, servertest.DialOptions{Token: bob.Token})
	reply := bobB.Join(room.ID, -1)
	if got, want := onlineIDs(reply.Online), onlineIDs([]chat.User{alice.User, bob.User, carol.User}); !slices.Equal(got, want) {
		t.Fatalf("join reply on hub B: got online %q, want %q (users on hub A included)", got, want)
	}

	// Anything B announced for bob's join there is published before bob's
	// next command on B.
	typingBarrier(t, bobB, watcher, bob.User.ID, room.ID)
	if got := presenceOf(t, watcher, bob.User.ID); !slices.Equal(got, []string{chat.StateOnline}) {
		t.Fatalf("bob joined on A, then on B: alice got presence %q, want exactly one online", got)
	}

	// bob leaves on A (the leave command answers after any announcement);
	// he is still on B.
	bobA.OK("leave", map[string]any{"room": room.ID}, nil)
	bobA.Close()
	typingBarrier(t, carolA, watcher, carol.User.ID, room.ID)
	if got := presenceOf(t, watcher, bob.User.ID); !slices.Equal(got, []string{chat.StateOnline}) {
		t.Fatalf("bob left A but is on B: alice got presence %q, want no offline", got)
	}
	if r := bobB.Join(room.ID, -1); !slices.Contains(onlineIDs(r.Online), bob.User.ID) {
		t.Fatalf("after bob left A: online %q lacks bob, still on B", onlineIDs(r.Online))
	}

	// His last connection goes, on B, by disconnecting.
	bobB.Close()
	servertest.Eventually(t, "alice sees bob offline", func() bool {
		return len(presenceOf(t, watcher, bob.User.ID)) == 2
	})
	if got := presenceOf(t, watcher, bob.User.ID); !slices.Equal(got, []string{chat.StateOnline, chat.StateOffline}) {
		t.Fatalf("after bob's last connection left: alice got presence %q, want online then offline", got)
	}
	carolB := b.Dial(t, servertest.DialOptions{Token: carol.Token})
	if got, want := onlineIDs(carolB.Join(room.ID, -1).Online), onlineIDs([]chat.User{alice.User, carol.User}); !slices.Equal(got, want) {
		t.Fatalf("join reply on B after bob left: got online %q, want %q", got, want)
	}
}

// TestRedisRateLimitsShared: a user's send budget is one budget across hubs.
func TestRedisRateLimitsShared(t *testing.T) {
	a, b := redisHubs(t, map[string]string{"HUB_SEND_RATE": "5/1m"})
	alice := a.Register(t, "alice")
	room := a.CreateRoom(t, alice, "limits", chat.KindPrivate)
	ca := a.Dial(t, servertest.DialOptions{Token: alice.Token})
	ca.Join(room.ID, -1)
	cb := b.Dial(t, servertest.DialOptions{Token: alice.Token})
	cb.Join(room.ID, -1)

	for i, c := range []*servertest.Client{ca, ca, ca, cb, cb} {
		if m := c.Send(room.ID, "hello"); m.Seq != int64(i+1) {
			t.Fatalf("send %d: got seq %d, want %d", i+1, m.Seq, i+1)
		}
	}
	for name, c := range map[string]*servertest.Client{"hub A": ca, "hub B": cb} {
		f := c.Fail("send", map[string]any{"room": room.ID, "text": "one too many"}, chat.CodeRateLimited)
		if f.Error.RetryAfter <= 0 || f.Error.RetryAfter > time.Minute.Milliseconds() {
			t.Fatalf("6th send on %s: retry_after_ms %d, want in (0, 60000]", name, f.Error.RetryAfter)
		}
	}
}

// TestRedisReadyz: /readyz checks Redis when it is configured.
func TestRedisReadyz(t *testing.T) {
	a, _ := redisHubs(t, nil)
	status, body := a.Do(t, "GET", "/readyz", "", nil)
	var res struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if status != http.StatusOK || res.Checks["redis"] != "ok" {
		t.Fatalf("/readyz: got %d %s, want 200 with redis ok", status, body)
	}
}

// TestRedisUnreachableStopsStart: a HUB_REDIS_URL that does not answer
// stops start-up with an error naming the variable. Needs no services.
func TestRedisUnreachableStopsStart(t *testing.T) {
	env := map[string]string{
		"HUB_ADDR":                "127.0.0.1:0",
		"HUB_DATA_DIR":            t.TempDir(),
		"HUB_NATS_SUBJECT_PREFIX": servertest.UniquePrefix(),
		"HUB_JWT_SECRET":          servertest.Secret,
		"HUB_REDIS_URL":           "redis://:hunter2-secret@127.0.0.1:1/0?dial_timeout=1s&max_retries=-1",
		"HUB_LOG_LEVEL":           "error",
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = srv.Run(ctx)
		t.Fatal("server.New: got nil error, want one naming HUB_REDIS_URL")
	}
	msg := err.Error()
	if !strings.Contains(msg, "HUB_REDIS_URL") || strings.Contains(msg, "hunter2") || strings.Contains(msg, "\n") {
		t.Fatalf("server.New: got error %q, want one line naming HUB_REDIS_URL without the password", msg)
	}
}
