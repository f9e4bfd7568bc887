package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// forEachBackend runs fn as a subtest on every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b servertest.Backend)) {
	for _, b := range servertest.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

func startHub(t *testing.T, b servertest.Backend, env map[string]string) *servertest.Hub {
	t.Helper()
	o := b.Options(t)
	o.Env = env
	return servertest.Start(t, o)
}

func TestChatRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, nil)
		alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
		room := h.CreateRoom(t, alice, "general", chat.KindPublic)

		ca := h.Dial(t, servertest.DialOptions{})
		ca.Auth(alice.Token)
		cb := h.Dial(t, servertest.DialOptions{Token: bob.Token}) // handshake auth
		ja := ca.Join(room.ID, -1)
		if len(ja.Messages) != 0 || ja.HasMore || string(ja.Call) != "null" || ja.Streams == nil {
			t.Fatalf("join reply of an empty room: got %+v", ja)
		}
		cb.Join(room.ID, -1)
		ca.Next(chat.EventPresence) // bob came online

		m := ca.Send(room.ID, "  hello bob  ")
		if m.Seq != 1 || m.Text != "hello bob" || m.From.ID != alice.User.ID || m.Room != room.ID {
			t.Fatalf("stored message: got %+v, want seq 1, trimmed text, from alice", m)
		}
		for name, c := range map[string]*servertest.Client{"bob": cb, "alice (sender)": ca} {
			got := c.Messages(1)[0]
			if got.ID != m.ID || got.Seq != 1 || got.Text != "hello bob" {
				t.Errorf("%s: got message %+v, want %+v", name, got, m)
			}
		}

		// The same client_msg_id returns the original and creates nothing.
		var r1, r2 struct{ Message chat.Message }
		cb.OK("send", map[string]any{"room": room.ID, "text": "once", "client_msg_id": "k1"}, &r1)
		cb.OK("send", map[string]any{"room": room.ID, "text": "once", "client_msg_id": "k1"}, &r2)
		if r1.Message.ID != r2.Message.ID || r2.Message.Seq != 2 {
			t.Fatalf("idempotent send: got %+v then %+v, want the same message with seq 2", r1.Message, r2.Message)
		}
		m3 := ca.Send(room.ID, "third")
		if m3.Seq != 3 {
			t.Fatalf("seq after a repeated send: got %d, want 3", m3.Seq)
		}
		got := cb.Messages(2)
		if got[0].Seq != 2 || got[1].Seq != 3 {
			t.Fatalf("bob's events: got seqs %d,%d, want 2,3 (the repeat must not fan out)", got[0].Seq, got[1].Seq)
		}

		// Typing reaches the others, not the typist.
		ca.OK("typing", map[string]any{"room": room.ID, "active": true}, nil)
		var typing chat.TypingEvent
		cb.Next(chat.EventTyping).Decode(t, &typing)
		if typing.User.ID != alice.User.ID || !typing.Active {
			t.Fatalf("typing event: got %+v", typing)
		}
		ca.OK("ping", nil, nil)
		if n := len(ca.Events(chat.EventTyping)); n != 0 {
			t.Fatalf("alice got %d typing events of her own, want 0", n)
		}

		// Edit and delete.
		var edited struct{ Message chat.Message }
		ca.OK("edit", map[string]any{"room": room.ID, "seq": 1, "text": "hello, bob"}, &edited)
		if edited.Message.Text != "hello, bob" || edited.Message.EditedAt == nil {
			t.Fatalf("edit reply: got %+v", edited.Message)
		}
		var ev chat.MessageEvent
		cb.Next(chat.EventMessageEdited).Decode(t, &ev)
		if ev.Message.Seq != 1 || ev.Message.Text != "hello, bob" {
			t.Fatalf("message_edited: got %+v", ev.Message)
		}
		cb.Fail("edit", map[string]any{"room": room.ID, "seq": 1, "text": "not mine"}, chat.CodeForbidden)
		cb.Fail("delete", map[string]any{"room": room.ID, "seq": 1}, chat.CodeForbidden)
		ca.OK("delete", map[string]any{"room": room.ID, "seq": 1}, nil)
		cb.Next(chat.EventMessageDeleted).Decode(t, &ev)
		if !ev.Message.Deleted || ev.Message.Text != "" {
			t.Fatalf("message_deleted: got %+v", ev.Message)
		}
		ca.Fail("edit", map[string]any{"room": room.ID, "seq": 1, "text": "again"}, chat.CodeNotFound)

		// Presence: bob's last connection leaving tells alice.
		cb.OK("leave", map[string]any{"room": room.ID}, nil)
		var pres chat.PresenceEvent
		for {
			ca.Next(chat.EventPresence).Decode(t, &pres)
			if pres.State == chat.StateOffline {
				break
			}
		}
		if pres.User.ID != bob.User.ID {
			t.Fatalf("offline presence: got %+v, want bob", pres)
		}
	})
}

func TestHistoryPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, map[string]string{"HUB_SEND_RATE": "1000/1s"})
		alice := h.Register(t, "alice")
		room := h.CreateRoom(t, alice, "paging", chat.KindPublic)
		for i := 1; i <= 12; i++ {
			h.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token,
				map[string]any{"text": fmt.Sprintf("m%d", i)}, http.StatusCreated, nil)
		}
		tests := []struct {
			query     string
			wantFirst int64
			wantLast  int64
			wantMore  bool
		}{
			{"limit=5", 8, 12, true},
			{"", 1, 12, false},
			{"before_seq=6&limit=3", 3, 5, true},
			{"before_seq=4&limit=3", 1, 3, false},
			{"after_seq=9&limit=2", 10, 11, true},
			{"after_seq=10&limit=2", 11, 12, false},
			{"after_seq=2&before_seq=7&limit=3", 3, 5, true},
			{"after_seq=2&before_seq=6&limit=3", 3, 5, false},
			{"limit=500", 1, 12, false},
		}
		c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
		for _, tt := range tests {
			var got struct {
				Messages []chat.Message `json:"messages"`
				HasMore  bool           `json:"has_more"`
			}
			h.JSON(t, "GET", "/api/rooms/"+room.ID+"/messages?"+tt.query, alice.Token, nil, http.StatusOK, &got)
			check := func(via string, msgs []chat.Message, more bool) {
				if len(msgs) == 0 || msgs[0].Seq != tt.wantFirst || msgs[len(msgs)-1].Seq != tt.wantLast || more != tt.wantMore {
					t.Errorf("%s %q: got %d messages %v, has_more %v; want seqs %d..%d, has_more %v",
						via, tt.query, len(msgs), seqs(msgs), more, tt.wantFirst, tt.wantLast, tt.wantMore)
				}
				for i := 1; i < len(msgs); i++ {
					if msgs[i].Seq != msgs[i-1].Seq+1 {
						t.Errorf("%s %q: not ascending and contiguous: %v", via, tt.query, seqs(msgs))
					}
				}
			}
			check("http", got.Messages, got.HasMore)
			fields := map[string]any{"room": room.ID}
			for _, kv := range strings.Split(tt.query, "&") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					var n int
					fmt.Sscan(v, &n)
					fields[k] = n
				}
			}
			var ws struct {
				Messages []chat.Message `json:"messages"`
				HasMore  bool           `json:"has_more"`
			}
			c.OK("history", fields, &ws)
			check("ws", ws.Messages, ws.HasMore)
		}
		status, body := h.Do(t, "GET", "/api/rooms/"+room.ID+"/messages?limit=-1", alice.Token, nil)
		if status != http.StatusBadRequest || servertest.ErrorCode(t, body) != chat.CodeBadRequest {
			t.Fatalf("negative limit: got %d %s, want 400 bad_request", status, body)
		}
	})
}

func seqs(msgs []chat.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// TestRecovery: a client that rejoins with the last seq it saw gets exactly
// the messages it missed, in order.
func TestRecovery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, map[string]string{"HUB_SEND_RATE": "1000/1s"})
		alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
		room := h.CreateRoom(t, alice, "recovery", chat.KindPublic)
		cb := h.Dial(t, servertest.DialOptions{Token: bob.Token})
		cb.Join(room.ID, -1)
		ca := h.Dial(t, servertest.DialOptions{Token: alice.Token})
		for i := range 3 {
			ca.Send(room.ID, fmt.Sprintf("before %d", i))
		}
		last := cb.Messages(3)[2].Seq
		cb.Close()

		const n = 7
		var sent []chat.Message
		for i := range n {
			sent = append(sent, ca.Send(room.ID, fmt.Sprintf("missed %d", i)))
		}
		cb2 := h.Dial(t, servertest.DialOptions{Token: bob.Token})
		j := cb2.Join(room.ID, last)
		if len(j.Messages) != n || j.HasMore {
			t.Fatalf("join since %d: got %d messages %v (has_more %v), want %d", last, len(j.Messages), seqs(j.Messages), j.HasMore, n)
		}
		for i, m := range j.Messages {
			if m.ID != sent[i].ID {
				t.Fatalf("recovered message %d: got %s (seq %d), want %s (seq %d)", i, m.ID, m.Seq, sent[i].ID, sent[i].Seq)
			}
		}
		// Live delivery continues right after the recovered ones, with no
		// duplicate of what the reply held.
		next := ca.Send(room.ID, "live")
		if got := cb2.Messages(1)[0]; got.ID != next.ID {
			t.Fatalf("first live event after recovery: got seq %d, want seq %d", got.Seq, next.Seq)
		}
		if extra := cb2.Events(chat.EventMessage); len(extra) != 0 {
			t.Fatalf("got %d extra message events after recovery, want 0", len(extra))
		}
	})
}

// TestRestartKeepsMessagesAndTokens restarts a hub on the same data dir
// (and, for PostgreSQL, the same database).
func TestRestartKeepsMessagesAndTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		o := b.Options(t)
		o.DataDir = t.TempDir()
		h := servertest.Start(t, o)
		alice := h.Register(t, "alice")
		room := h.CreateRoom(t, alice, "durable", chat.KindPrivate)
		c := h.Dial(t, servertest.DialOptions{Token: alice.Token})
		var acked []chat.Message
		for i := range 5 {
			acked = append(acked, c.Send(room.ID, fmt.Sprintf("keep %d", i)))
		}
		c.Close()
		h.Stop()

		h2 := servertest.Start(t, o)
		var me struct{ User chat.User }
		h2.JSON(t, "GET", "/api/me", alice.Token, nil, http.StatusOK, &me)
		if me.User.ID != alice.User.ID {
			t.Fatalf("old token after restart: got user %+v, want %+v", me.User, alice.User)
		}
		c2 := h2.Dial(t, servertest.DialOptions{Token: alice.Token})
		j := c2.Join(room.ID, 0)
		if len(j.Messages) != len(acked) {
			t.Fatalf("after restart: got %d messages, want %d", len(j.Messages), len(acked))
		}
		for i, m := range j.Messages {
			if m.ID != acked[i].ID || m.Text != acked[i].Text || m.Seq != int64(i+1) {
				t.Fatalf("message %d after restart: got %+v, want %+v", i, m, acked[i])
			}
		}
		if m := c2.Send(room.ID, "after restart"); m.Seq != 6 {
			t.Fatalf("seq after restart: got %d, want 6", m.Seq)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
