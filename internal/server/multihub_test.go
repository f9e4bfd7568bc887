package server_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// twoHubs starts two hubs that form one service: one PostgreSQL schema, one
// NATS server, one subject prefix and one secret.
func twoHubs(t *testing.T, env map[string]string) (*servertest.Hub, *servertest.Hub) {
	t.Helper()
	return startPair(t, servertest.Options{Env: env})
}

// startPair starts two hubs from o, with a fresh PostgreSQL schema and the
// test NATS filled in, and one prefix (o's, or a new one) for both.
func startPair(t *testing.T, o servertest.Options) (*servertest.Hub, *servertest.Hub) {
	t.Helper()
	o.DatabaseURL = servertest.RequirePostgres(t)
	o.NATSURL = servertest.RequireNATS(t)
	if o.Prefix == "" {
		o.Prefix = servertest.UniquePrefix()
	}
	return servertest.Start(t, o), servertest.Start(t, o)
}

func TestTwoHubsAreOneService(t *testing.T) {
	a, b := twoHubs(t, nil)
	alice := a.Register(t, "alice")
	var aliceOnB struct {
		User  chat.User `json:"user"`
		Token string    `json:"token"`
	}
	// Bob signs up on hub B and logs in there; alice's room, created on A,
	// is visible from B.
	bob := b.Register(t, "bob")
	b.JSON(t, "POST", "/api/auth/login", "", map[string]string{"username": alice.User.Username, "password": "correct horse battery"}, http.StatusOK, &aliceOnB)
	if aliceOnB.User.ID != alice.User.ID {
		t.Fatalf("login on B as alice: got %+v, want %+v", aliceOnB.User, alice.User)
	}
	room := a.CreateRoom(t, alice, "across", chat.KindPrivate, bob.User.ID)
	var onB struct{ Room chat.Room }
	b.JSON(t, "GET", "/api/rooms/"+room.ID, bob.Token, nil, http.StatusOK, &onB)

	ca := a.Dial(t, servertest.DialOptions{Token: alice.Token})
	ca.Join(room.ID, -1)
	cb := b.Dial(t, servertest.DialOptions{Token: bob.Token})
	cb.Join(room.ID, -1)

	var pres chat.PresenceEvent
	ca.Next(chat.EventPresence).Decode(t, &pres)
	for pres.User.ID != bob.User.ID {
		ca.Next(chat.EventPresence).Decode(t, &pres)
	}
	if pres.State != chat.StateOnline {
		t.Fatalf("alice on A sees bob (on B): got %+v, want online", pres)
	}

	m1 := ca.Send(room.ID, "from A")
	if got := cb.Messages(1)[0]; got.ID != m1.ID {
		t.Fatalf("bob on B: got %+v, want %+v", got, m1)
	}
	m2 := cb.Send(room.ID, "from B")
	if m2.Seq != 2 {
		t.Fatalf("seq of B's message after A's: got %d, want 2", m2.Seq)
	}
	got := ca.Messages(2) // her own, then bob's
	if got[0].ID != m1.ID || got[1].ID != m2.ID {
		t.Fatalf("alice on A: got seqs %v, want [1 2]", seqs(got))
	}

	cb.OK("typing", map[string]any{"room": room.ID, "active": true}, nil)
	var typing chat.TypingEvent
	ca.Next(chat.EventTyping).Decode(t, &typing)
	if typing.User.ID != bob.User.ID || !typing.Active {
		t.Fatalf("typing across hubs: got %+v", typing)
	}

	// Removal on A closes bob's room on B.
	a.JSON(t, "DELETE", "/api/rooms/"+room.ID+"/members/"+bob.User.ID, alice.Token, nil, http.StatusNoContent, nil)
	cb.Next(chat.EventLeft)

	cb.Close()
	for {
		ca.Next(chat.EventPresence).Decode(t, &pres)
		if pres.User.ID == bob.User.ID && pres.State == chat.StateOffline {
			break
		}
	}
}

// TestConcurrentSendsAcrossHubsStayGapless sends 200 messages to one room at
// once, half through each hub, and checks seq 1..200 with no gap or
// duplicate, in the store and as delivered to a watcher on each hub.
func TestConcurrentSendsAcrossHubsStayGapless(t *testing.T) {
	a, b := twoHubs(t, map[string]string{"HUB_SEND_RATE": "100000/1s", "HUB_OUTBOUND_QUEUE": "1024"})
	owner := a.Register(t, "owner")
	room := a.CreateRoom(t, owner, "busy", chat.KindPublic)
	watchA := a.Dial(t, servertest.DialOptions{Token: owner.Token})
	watchA.Join(room.ID, -1)
	watcherB := b.Register(t, "watcher")
	watchB := b.Dial(t, servertest.DialOptions{Token: watcherB.Token})
	watchB.Join(room.ID, -1)

	const senders, perSender = 10, 20 // 200 in all
	var wg sync.WaitGroup
	acked := make(chan chat.Message, senders*perSender)
	for i := range senders {
		hub := a
		if i%2 == 1 {
			hub = b
		}
		acct := hub.Register(t, fmt.Sprintf("s%d", i))
		c := hub.Dial(t, servertest.DialOptions{Token: acct.Token})
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Commands are pipelined: all sent before any reply is read.
			ids := make([]int64, perSender)
			for j := range perSender {
				ids[j] = c.Command("send", map[string]any{"room": room.ID, "text": fmt.Sprintf("s%d-%d", i, j)})
			}
			for _, id := range ids {
				f := c.Reply(id)
				if !f.OK {
					t.Errorf("send: got %s, want ok", f.Raw)
					continue
				}
				var r struct{ Message chat.Message }
				f.DecodeData(t, &r)
				acked <- r.Message
			}
		}()
	}
	wg.Wait()
	close(acked)
	seen := map[int64]string{}
	for m := range acked {
		if prev, dup := seen[m.Seq]; dup {
			t.Fatalf("seq %d acknowledged twice: %s and %s", m.Seq, prev, m.ID)
		}
		seen[m.Seq] = m.ID
	}
	const total = senders * perSender
	for s := int64(1); s <= total; s++ {
		if _, ok := seen[s]; !ok {
			t.Fatalf("seq %d missing from the acknowledgements (got %d acks)", s, len(seen))
		}
	}
	for name, w := range map[string]*servertest.Client{"watcher on A": watchA, "watcher on B": watchB} {
		got := w.Messages(total)
		for i, m := range got {
			if m.Seq != int64(i+1) || m.ID != seen[m.Seq] {
				t.Fatalf("%s: event %d has seq %d (id %s), want seq %d (id %s)", name, i, m.Seq, m.ID, i+1, seen[int64(i+1)])
			}
		}
	}
	var hist struct {
		Messages []chat.Message `json:"messages"`
		HasMore  bool           `json:"has_more"`
	}
	b.JSON(t, "GET", "/api/rooms/"+room.ID+"/messages?limit=200", owner.Token, nil, http.StatusOK, &hist)
	if len(hist.Messages) != total || hist.HasMore {
		t.Fatalf("history: got %d messages (has_more %v), want %d", len(hist.Messages), hist.HasMore, total)
	}
	for i, m := range hist.Messages {
		if m.Seq != int64(i+1) {
			t.Fatalf("history position %d: got seq %d, want %d", i, m.Seq, i+1)
		}
	}
}
