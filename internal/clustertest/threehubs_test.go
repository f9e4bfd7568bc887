package clustertest_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/clustertest"
	"github.com/pawfect/hub/internal/server/servertest"
)

// TestThreeHubs runs three hub processes on one PostgreSQL, NATS and Redis
// with users spread over them, and checks that they behave as one service.
func TestThreeHubs(t *testing.T) {
	t.Parallel()
	// The send budget is the default count over a longer window, so a slow
	// machine cannot let the window slide open in the middle of the
	// rate-limit subtest; what is tested is that the budget is shared.
	c := clustertest.Start(t, clustertest.Options{Hubs: 3, Env: map[string]string{"HUB_SEND_RATE": "20/1m"}})
	api := []*servertest.Hub{c.API(0), c.API(1), c.API(2)}
	// One member per hub: alice on hub0, bob on hub1, carol on hub2.
	users := make([]servertest.Account, 3)
	conns := make([]*servertest.Client, 3)
	for i, name := range []string{"alice", "bob", "carol"} {
		users[i] = api[i].Register(t, name)
	}
	room := api[0].CreateRoom(t, users[0], "three", chat.KindPublic)
	for i := range conns {
		conns[i] = api[i].Dial(t, servertest.DialOptions{Token: users[i].Token})
		conns[i].Join(room.ID, -1)
	}

	t.Run("messages", func(t *testing.T) {
		// Every member pipelines its sends, so the three hubs store
		// concurrently into one room.
		const perUser = 5
		ids := make([][]int64, len(conns))
		for k := range perUser {
			for i, cl := range conns {
				ids[i] = append(ids[i], cl.Command("send", map[string]any{
					"room": room.ID, "text": fmt.Sprintf("%s %d", users[i].User.Username, k),
					"client_msg_id": fmt.Sprintf("m%d-%d", i, k),
				}))
			}
		}
		acked := map[int64]chat.Message{}
		for i, cl := range conns {
			prev := int64(0)
			for _, id := range ids[i] {
				f := cl.Reply(id)
				if !f.OK {
					t.Fatalf("send from hub%d: got %s, want ok", i, f.Raw)
				}
				var r struct{ Message chat.Message }
				f.DecodeData(t, &r)
				m := r.Message
				if other, dup := acked[m.Seq]; dup {
					t.Fatalf("seq %d acknowledged twice: %s and %s", m.Seq, other.ID, m.ID)
				}
				if m.Seq <= prev {
					t.Fatalf("hub%d: one connection's sends got seqs %d then %d; want increasing", i, prev, m.Seq)
				}
				prev = m.Seq
				acked[m.Seq] = m
			}
		}
		total := int64(len(conns) * perUser)
		for s := int64(1); s <= total; s++ {
			if _, ok := acked[s]; !ok {
				t.Fatalf("seq %d missing among the acknowledgements %v", s, keys(acked))
			}
		}
		for i, cl := range conns {
			for k, m := range cl.Messages(int(total)) {
				if want := acked[int64(k+1)]; m.Seq != want.Seq || m.ID != want.ID {
					t.Fatalf("member on hub%d, message %d: got seq %d (%s), want seq %d (%s)", i, k, m.Seq, m.ID, want.Seq, want.ID)
				}
			}
		}
		// A duplicate would sit between the last message and the next one.
		last := conns[1].Send(room.ID, "the last one")
		for i, cl := range conns {
			if m := cl.Messages(1)[0]; m.ID != last.ID || m.Seq != total+1 {
				t.Fatalf("member on hub%d, after %d messages: got seq %d (%s), want seq %d (%s)", i, total, m.Seq, m.ID, total+1, last.ID)
			}
		}
	})

	t.Run("presence", func(t *testing.T) {
		// A join reply on any hub lists the members online on all three.
		erin := api[1].Register(t, "erin")
		ce := api[1].Dial(t, servertest.DialOptions{Token: erin.Token})
		online := map[string]bool{}
		for _, u := range ce.Join(room.ID, -1).Online {
			online[u.ID] = true
		}
		for i, u := range users {
			if !online[u.User.ID] {
				t.Errorf("join reply on hub1: %s (on hub%d) not online; online: %v", u, i, online)
			}
		}
		ce.Close()

		// Dave comes and goes on hub2; the members on hub0 and hub1 see both.
		dave := api[2].Register(t, "dave")
		cd := api[2].Dial(t, servertest.DialOptions{Token: dave.Token})
		cd.Join(room.ID, -1)
		for i := range 2 {
			nextPresence(t, conns[i], dave.User.ID, chat.StateOnline)
		}
		cd.Close()
		for i := range 2 {
			nextPresence(t, conns[i], dave.User.ID, chat.StateOffline)
		}
	})

	t.Run("typing", func(t *testing.T) {
		for _, active := range []bool{true, false} {
			conns[2].OK("typing", map[string]any{"room": room.ID, "active": active}, nil)
			for i := range 2 {
				var ev chat.TypingEvent
				conns[i].Next(chat.EventTyping).Decode(t, &ev)
				if ev.User.ID != users[2].User.ID || ev.Active != active || ev.Room != room.ID {
					t.Fatalf("member on hub%d: got typing %+v, want carol (hub2) active=%v in %s", i, ev, active, room.ID)
				}
			}
		}
	})

	t.Run("inspection", func(t *testing.T) {
		// Any hub's room inspection lists the connections on all three,
		// each on the node that holds it; the room list agrees.
		var login struct{ Token string }
		api[2].JSON(t, "POST", "/api/auth/login", "", map[string]string{
			"username": clustertest.AdminName, "password": clustertest.AdminPassword,
		}, http.StatusOK, &login)
		want := map[string]string{} // user ID → node of their one connection
		for i, u := range users {
			want[u.User.ID] = c.Hub(i).NodeID
		}
		for i, h := range api {
			var d chat.RoomDetail
			servertest.Eventually(t, fmt.Sprintf("hub%d to list exactly the members' connections", i), func() bool {
				h.JSON(t, "GET", "/api/admin/rooms/"+room.ID, login.Token, nil, http.StatusOK, &d)
				return len(d.Online) == len(users) // visitors of other subtests have left
			})
			for _, ou := range d.Online {
				if len(ou.Connections) != 1 || ou.Connections[0].Node != want[ou.User.ID] {
					t.Errorf("hub%d: %s's connections %+v, want one on %s", i, ou.User.Username, ou.Connections, want[ou.User.ID])
				}
			}
			if len(d.Nodes) != 3 {
				t.Errorf("hub%d: nodes %+v, want all three", i, d.Nodes)
			}
			for _, n := range d.Nodes {
				if n.Status != chat.NodeOK {
					t.Errorf("hub%d: node %s is %s, want ok", i, n.Node, n.Status)
				}
			}
			if d.LastSeq == 0 || d.LastSeq != d.Room.LastSeq {
				t.Errorf("hub%d: last_seq %d (room %d), want the room's, above 0", i, d.LastSeq, d.Room.LastSeq)
			}
			var list struct{ Rooms []chat.RoomStats }
			h.JSON(t, "GET", "/api/admin/rooms", login.Token, nil, http.StatusOK, &list)
			if len(list.Rooms) == 0 || list.Rooms[0].Room.ID != room.ID || list.Rooms[0].Connections != 3 || list.Rooms[0].OnlineUsers != 3 {
				t.Errorf("hub%d: room list %+v, want %s first with 3 users on 3 connections", i, list.Rooms, room.ID)
			}
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		// One user with a connection on each hub, sending round-robin: the
		// budget of 20 is shared, so the 21st send is refused on every hub.
		eve := api[0].Register(t, "eve")
		limits := api[0].CreateRoom(t, eve, "limits", chat.KindPublic)
		ec := make([]*servertest.Client, 3)
		for i := range ec {
			ec[i] = api[i].Dial(t, servertest.DialOptions{Token: eve.Token})
		}
		for k := range 20 {
			ec[k%3].Send(limits.ID, fmt.Sprintf("within the budget %d", k))
		}
		for i, cl := range ec {
			f := cl.Fail("send", map[string]any{"room": limits.ID, "text": "over the budget"}, chat.CodeRateLimited)
			if f.Error.RetryAfter <= 0 {
				t.Errorf("rate_limited on hub%d: got retry_after_ms %d, want > 0 (%s)", i, f.Error.RetryAfter, f.Raw)
			}
		}
	})
}

// nextPresence skips c's presence events until userID's with state.
func nextPresence(t *testing.T, c *servertest.Client, userID, state string) {
	t.Helper()
	for {
		var ev chat.PresenceEvent
		c.Next(chat.EventPresence).Decode(t, &ev)
		if ev.User.ID == userID && ev.State == state {
			return
		}
	}
}

func keys(m map[int64]chat.Message) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
