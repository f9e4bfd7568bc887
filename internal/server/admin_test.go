package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// The bootstrap admin of the tests' hubs (HUB_BOOTSTRAP_ADMIN=adminEnv).
const (
	adminName, adminPassword = "root", "supersecret1"
	adminEnv                 = adminName + ":" + adminPassword
)

// admin signs in as the bootstrap admin of h.
func admin(t *testing.T, h *servertest.Hub) servertest.Account {
	t.Helper()
	return loginAs(t, h, adminName, adminPassword)
}

type roomsList struct {
	Rooms []chat.RoomStats  `json:"rooms"`
	Nodes []chat.NodeStatus `json:"nodes"`
}

// connsOf maps each online user's ID to their connections' nodes.
func connsOf(d chat.RoomDetail) map[string][]string {
	out := map[string][]string{}
	for _, ou := range d.Online {
		for _, c := range ou.Connections {
			out[ou.User.ID] = append(out[ou.User.ID], c.Node)
		}
	}
	return out
}

func TestAdminRoomInspection(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		o := b.Options(t)
		o.Env = map[string]string{"HUB_BOOTSTRAP_ADMIN": adminEnv}
		h := servertest.Start(t, o)
		root := admin(t, h)
		alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
		room := h.CreateRoom(t, alice, "watched", chat.KindPublic)
		idle := h.CreateRoom(t, alice, "idle", chat.KindPublic)
		ca := h.Dial(t, servertest.DialOptions{Token: alice.Token})
		ca.Join(room.ID, -1)
		ca2 := h.Dial(t, servertest.DialOptions{Token: alice.Token})
		ca2.Join(room.ID, -1)
		cb := h.Dial(t, servertest.DialOptions{Token: bob.Token})
		cb.Join(room.ID, -1)
		cb.Join(idle.ID, -1)
		ca.Send(room.ID, "one")
		ca.Send(room.ID, "two")

		var d chat.RoomDetail
		h.JSON(t, "GET", "/api/admin/rooms/"+room.ID, root.Token, nil, http.StatusOK, &d)
		if d.Room.ID != room.ID || d.LastSeq != 2 || d.MessagesLastMinute != 2 {
			t.Errorf("room detail: got room %s last_seq %d messages_last_minute %d, want %s, 2, 2",
				d.Room.ID, d.LastSeq, d.MessagesLastMinute, room.ID)
		}
		conns := connsOf(d)
		if len(conns[alice.User.ID]) != 2 || len(conns[bob.User.ID]) != 1 || len(conns) != 2 {
			t.Fatalf("online: got %v, want alice with 2 connections and bob with 1", conns)
		}
		for _, ou := range d.Online {
			for _, c := range ou.Connections {
				if c.ID == "" || c.Node == "" || c.Since.IsZero() {
					t.Errorf("connection of %s: got %+v, want id, node and since set", ou.User.Username, c)
				}
			}
		}
		if d.Call != nil || d.Streams == nil {
			t.Errorf("call and streams: got %v and %v, want null and []", d.Call, d.Streams)
		}

		var list roomsList
		h.JSON(t, "GET", "/api/admin/rooms", root.Token, nil, http.StatusOK, &list)
		var ids []string
		for _, st := range list.Rooms {
			ids = append(ids, st.Room.ID)
		}
		if !slices.Equal(ids, []string{room.ID, idle.ID}) {
			t.Fatalf("rooms: got %v, want [%s %s] (most connections first)", ids, room.ID, idle.ID)
		}
		if st := list.Rooms[0]; st.OnlineUsers != 2 || st.Connections != 3 || st.MessagesLastMinute != 2 {
			t.Errorf("rooms[0]: got %+v, want 2 users, 3 connections, 2 messages", st)
		}
		if st := list.Rooms[1]; st.OnlineUsers != 1 || st.Connections != 1 || st.MessagesLastMinute != 0 {
			t.Errorf("rooms[1]: got %+v, want 1 user, 1 connection, 0 messages", st)
		}
		if len(list.Nodes) != 1 || list.Nodes[0].Status != chat.NodeOK {
			t.Errorf("nodes: got %+v, want this hub, ok", list.Nodes)
		}

		// Disconnect bob's connection: it closes with 4003, the room
		// goes on, and a second try finds nothing.
		var bobConn string
		for _, ou := range d.Online {
			if ou.User.ID == bob.User.ID {
				bobConn = ou.Connections[0].ID
			}
		}
		var out struct{ ID, Node string }
		h.JSON(t, "DELETE", "/api/admin/connections/"+bobConn, root.Token, nil, http.StatusOK, &out)
		if out.ID != bobConn || out.Node != d.Online[1].Connections[0].Node {
			t.Errorf("disconnect reply: got %+v, want id %s on its node", out, bobConn)
		}
		if code := cb.Closed(); code != chat.CloseKicked {
			t.Fatalf("bob's socket: got close %d, want %d", code, chat.CloseKicked)
		}
		var audit struct{ Entries []chat.AuditEntry }
		h.JSON(t, "GET", "/api/admin/audit?limit=1", root.Token, nil, http.StatusOK, &audit)
		if len(audit.Entries) != 1 {
			t.Fatalf("audit: got %d entries, want the disconnect", len(audit.Entries))
		}
		if e := audit.Entries[0]; e.Action != chat.AuditAdminDisconnect || e.Target != bobConn ||
			e.Actor == nil || e.Actor.ID != root.User.ID || string(e.Detail) != `{"node":"`+out.Node+`"}` {
			t.Errorf("audit entry: got %+v (detail %s), want admin.disconnect of %s by root on %s", e, e.Detail, bobConn, out.Node)
		}
		servertest.Eventually(t, "bob to leave the room's connections", func() bool {
			h.JSON(t, "GET", "/api/admin/rooms/"+room.ID, root.Token, nil, http.StatusOK, &d)
			return len(connsOf(d)[bob.User.ID]) == 0
		})
		ca.Send(room.ID, "still here")
		status, body := h.Do(t, "DELETE", "/api/admin/connections/"+bobConn, root.Token, nil)
		if status != http.StatusNotFound || servertest.ErrorCode(t, body) != chat.CodeNotFound {
			t.Errorf("second disconnect: got %d %s, want 404 not_found", status, body)
		}
		status, body = h.Do(t, "GET", "/api/admin/rooms/r_nosuchroom", root.Token, nil)
		if status != http.StatusNotFound || servertest.ErrorCode(t, body) != chat.CodeNotFound {
			t.Errorf("unknown room: got %d %s, want 404 not_found", status, body)
		}
	})
}

func TestAdminInspectionAcrossHubs(t *testing.T) {
	env := map[string]string{"HUB_BOOTSTRAP_ADMIN": adminEnv}
	a, b := startPair(t, servertest.Options{RedisURL: servertest.RequireRedis(t), Env: env})
	root := admin(t, a)
	alice, bob := a.Register(t, "alice"), a.Register(t, "bob")
	room := a.CreateRoom(t, alice, "spread", chat.KindPublic)
	ca := a.Dial(t, servertest.DialOptions{Token: alice.Token})
	ca.Join(room.ID, -1)
	cb := b.Dial(t, servertest.DialOptions{Token: bob.Token})
	cb.Join(room.ID, -1)

	// Either hub answers for both.
	for _, h := range []*servertest.Hub{a, b} {
		var d chat.RoomDetail
		servertest.Eventually(t, "both hubs' connections", func() bool {
			h.JSON(t, "GET", "/api/admin/rooms/"+room.ID, root.Token, nil, http.StatusOK, &d)
			c := connsOf(d)
			ac, bc := c[alice.User.ID], c[bob.User.ID]
			return len(ac) == 1 && len(bc) == 1 && ac[0] != bc[0]
		})
		if len(d.Nodes) != 2 || d.Nodes[0].Status != chat.NodeOK || d.Nodes[1].Status != chat.NodeOK {
			t.Errorf("nodes: got %+v, want two, both ok", d.Nodes)
		}
		var list roomsList
		h.JSON(t, "GET", "/api/admin/rooms", root.Token, nil, http.StatusOK, &list)
		if len(list.Rooms) != 1 || list.Rooms[0].Connections != 2 || list.Rooms[0].OnlineUsers != 2 {
			t.Errorf("rooms: got %+v, want the one room with 2 users on 2 connections", list.Rooms)
		}
	}

	// Hub A disconnects bob's connection, which hub B holds.
	var d chat.RoomDetail
	a.JSON(t, "GET", "/api/admin/rooms/"+room.ID, root.Token, nil, http.StatusOK, &d)
	var bobConn chat.ConnectionInfo
	for _, ou := range d.Online {
		if ou.User.ID == bob.User.ID {
			bobConn = ou.Connections[0]
		}
	}
	var out struct{ ID, Node string }
	a.JSON(t, "DELETE", "/api/admin/connections/"+bobConn.ID, root.Token, nil, http.StatusOK, &out)
	if out.Node != bobConn.Node {
		t.Errorf("disconnected on node %q, want %q", out.Node, bobConn.Node)
	}
	if code := cb.Closed(); code != chat.CloseKicked {
		t.Fatalf("bob's socket on B: got close %d, want %d", code, chat.CloseKicked)
	}

	// A hub that stops says goodbye: the other no longer lists it.
	b.Stop()
	servertest.Eventually(t, "hub B to leave the node list", func() bool {
		a.JSON(t, "GET", "/api/admin/rooms/"+room.ID, root.Token, nil, http.StatusOK, &d)
		return len(d.Nodes) == 1
	})
}

// TestAdminEndpointsRefuseNonAdmins covers every admin endpoint at once:
// anonymous callers and bad tokens get 401, users, guests and bots 403,
// and a refused call changes nothing.
func TestAdminEndpointsRefuseNonAdmins(t *testing.T) {
	h := servertest.Start(t, servertest.Options{Env: webhookEnv()})
	root := admin(t, h)
	alice := h.Register(t, "alice")
	room := h.CreateRoom(t, alice, "r", chat.KindPublic)
	guest := h.Guest(t, "visitor")
	bot := createBot(t, h, alice, botName("ops"))
	hook := createHook(t, h, root.Token, map[string]any{"url": "http://127.0.0.1:1/never", "events": []string{"member_added"}})
	ca := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	ca.Join(room.ID, -1)
	var d chat.RoomDetail
	h.JSON(t, "GET", "/api/admin/rooms/"+room.ID, root.Token, nil, http.StatusOK, &d)
	conn := d.Online[0].Connections[0].ID

	endpoints := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/admin/rooms", nil},
		{"GET", "/api/admin/rooms/" + room.ID, nil},
		{"DELETE", "/api/admin/connections/" + conn, nil},
		{"GET", "/api/admin/audit", nil},
		{"POST", "/api/webhooks", map[string]any{"url": "http://127.0.0.1:1/x", "events": []string{"message"}}},
		{"GET", "/api/webhooks", nil},
		{"GET", "/api/webhooks/" + hook.ID, nil},
		{"DELETE", "/api/webhooks/" + hook.ID, nil},
		{"GET", "/api/webhooks/" + hook.ID + "/deliveries", nil},
	}
	callers := []struct {
		name  string
		token string
		want  int
		code  chat.Code
	}{
		{"anonymous", "", http.StatusUnauthorized, chat.CodeUnauthorized},
		{"bad token", "not-a-token", http.StatusUnauthorized, chat.CodeUnauthorized},
		{"user", alice.Token, http.StatusForbidden, chat.CodeForbidden},
		{"guest", guest.Token, http.StatusForbidden, chat.CodeForbidden},
		{"bot", bot.Token, http.StatusForbidden, chat.CodeForbidden},
	}
	for _, e := range endpoints {
		for _, c := range callers {
			t.Run(e.method+" "+e.path+" as "+c.name, func(t *testing.T) {
				status, body := h.Do(t, e.method, e.path, c.token, e.body)
				if status != c.want || servertest.ErrorCode(t, body) != c.code {
					t.Fatalf("got %d %s, want %d %s", status, body, c.want, c.code)
				}
			})
		}
	}

	// The refused calls created, deleted and closed nothing.
	var list struct{ Webhooks []hookJSON }
	h.JSON(t, "GET", "/api/webhooks", root.Token, nil, http.StatusOK, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].ID != hook.ID {
		t.Errorf("webhooks after refused calls: got %+v, want only %s", list.Webhooks, hook.ID)
	}
	ca.Send(room.ID, "still connected")
	var audit struct{ Entries []chat.AuditEntry }
	h.JSON(t, "GET", "/api/admin/audit", root.Token, nil, http.StatusOK, &audit)
	for _, e := range audit.Entries {
		if e.Action == chat.AuditAdminDisconnect || e.Action == chat.AuditWebhookDelete ||
			(e.Action == chat.AuditWebhookCreate && e.Target != hook.ID) {
			t.Errorf("audit after refused calls: %s %s, want no such entry", e.Action, e.Target)
		}
	}
}
