package clustertest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/clustertest"
	"github.com/pawfect/hub/internal/server/servertest"
	"github.com/pawfect/hub/internal/sfu/sfutest"
)

// TestSFUNode runs a call on a cmd/sfu process that two hubs (HUB_SFU=nats)
// reach over the real NATS server: the caller is on one hub, the callee on
// the other, and media flows both ways through the SFU node. When the node
// dies (SIGKILL, no goodbye), both hubs' clients learn the call ended with
// sfu_lost, and a new call waits for an SFU node instead of failing later.
func TestSFUNode(t *testing.T) {
	t.Parallel()
	c := clustertest.Start(t, clustertest.Options{Hubs: 2, Env: map[string]string{"HUB_SFU": "nats"}})
	sfu := c.StartSFU(t, nil)
	api := []*servertest.Hub{c.API(0), c.API(1)}
	alice, bob := api[0].Register(t, "alice"), api[1].Register(t, "bob")
	room := api[0].CreateRoom(t, alice, "walkies", chat.KindPublic)
	wsA := api[0].Dial(t, servertest.DialOptions{Token: alice.Token})
	wsB := api[1].Dial(t, servertest.DialOptions{Token: bob.Token})
	wsA.Join(room.ID, 0)
	wsB.Join(room.ID, 0)

	var started struct {
		Call chat.Call `json:"call"`
	}
	wsA.OK("call_start", map[string]any{"room": room.ID, "kind": "video"}, &started)
	call := started.Call
	rtcs := map[string]*servertest.RTC{}
	for _, p := range []struct {
		acc servertest.Account
		ws  *servertest.Client
	}{{alice, wsA}, {bob, wsB}} {
		r := servertest.NewRTC(t, p.ws, call.ID)
		if _, err := r.PublishOpus(sfutest.SourceOptions{ID: "mic"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.PublishVP8(sfutest.SourceOptions{ID: "cam"}); err != nil {
			t.Fatal(err)
		}
		p.ws.OK("call_join", map[string]any{"room": room.ID, "call_id": call.ID}, nil)
		rtcs[p.acc.User.ID] = r
	}
	for _, pair := range [][2]servertest.Account{{alice, bob}, {bob, alice}} {
		to, from := rtcs[pair[0].User.ID], pair[1].User
		for _, src := range []string{"camera", "microphone"} {
			id := from.ID + ":" + src
			servertest.Eventually(t, pair[0].User.Username+" receives "+id+" through the SFU node", func() bool {
				s, ok := to.Track(id)
				return ok && s.Count >= 30
			})
		}
	}

	// Inspection, asked of the other hub, names the SFU node.
	admin := adminLogin(t, api[1])
	var d chat.RoomDetail
	api[1].JSON(t, "GET", "/api/admin/rooms/"+room.ID, admin, nil, http.StatusOK, &d)
	if d.Call == nil || d.Call.ID != call.ID || d.Call.SFUNode != sfu.NodeID || len(d.Call.Participants) != 2 {
		t.Fatalf("inspected call: got %+v, want call %s on %s with two participants", d.Call, call.ID, sfu.NodeID)
	}

	// Bob's hub dies: the surviving hub takes him out of the call. The
	// call_state events so far end with both in the call.
	for {
		var ev chat.CallStateEvent
		wsA.Next(chat.EventCallState).Decode(t, &ev)
		if len(ev.Call.Participants) == 2 {
			break
		}
	}
	c.Kill(t, 1)
	hubKilled := time.Now()
	for {
		var ev chat.CallStateEvent
		wsA.Next(chat.EventCallState).Decode(t, &ev)
		if ev.Call.ID == call.ID && len(ev.Call.Participants) == 1 && ev.Call.Participants[0].ID == alice.User.ID {
			break
		}
		if time.Since(hubKilled) > servertest.Wait {
			t.Fatal("bob is still in the call after his hub died")
		}
	}
	if took := time.Since(hubKilled); took > 10*time.Second {
		t.Errorf("bob left the call %v after his hub died, want within 10 s", took)
	}
	t.Logf("bob left the call %v after his hub was killed", time.Since(hubKilled).Round(100*time.Millisecond))
	c.Restart(t, 1)
	wsB = api[1].Dial(t, servertest.DialOptions{Token: bob.Token})
	wsB.Join(room.ID, 0)

	killed := time.Now()
	c.KillSFU(t, 0)
	for _, ws := range []*servertest.Client{wsA, wsB} {
		deadline := time.Now().Add(servertest.Wait)
		for {
			var ev chat.CallStateEvent
			ws.Next(chat.EventCallState).Decode(t, &ev)
			if ev.Call.ID == call.ID && ev.Call.State == chat.CallEnded {
				if ev.Call.EndedReason != chat.CallEndSFULost {
					t.Fatalf("call ended with %q, want %q", ev.Call.EndedReason, chat.CallEndSFULost)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no call_state ended after the SFU node died")
			}
		}
	}
	t.Logf("the call ended %v after the SFU node was killed", time.Since(killed).Round(100*time.Millisecond))
	var j struct {
		Call *chat.Call `json:"call"`
	}
	wsB.OK("join", map[string]any{"room": room.ID}, &j)
	if j.Call != nil {
		t.Errorf("join after the SFU died: got call %+v, want null", j.Call)
	}
	f := wsA.Fail("call_start", map[string]any{"room": room.ID, "kind": "video"}, chat.CodeUnavailable)
	if f.Error.Message == "" {
		t.Errorf("call_start with no SFU node: got %s, want unavailable with a message", f.Raw)
	}

	// A new node: calls work again.
	c.StartSFU(t, nil)
	servertest.Eventually(t, "call_start succeeds once a new SFU node beats", func() bool {
		return wsA.Do("call_start", map[string]any{"room": room.ID, "kind": "video"}).OK
	})
}

func adminLogin(t *testing.T, h *servertest.Hub) string {
	t.Helper()
	var r struct {
		Token string `json:"token"`
	}
	h.JSON(t, "POST", "/api/auth/login", "", map[string]any{
		"username": clustertest.AdminName, "password": clustertest.AdminPassword,
	}, http.StatusOK, &r)
	return r.Token
}
