package server_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
	"github.com/pawfect/hub/internal/sfu/sfutest"
)

// callEnv is what every call test's hub runs with: the embedded SFU on
// loopback candidates only, so Pion peers in the test process reach it.
func callEnv(extra map[string]string) map[string]string {
	env := map[string]string{"HUB_SFU_LOOPBACK": "true"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

type callReply struct {
	Call chat.Call `json:"call"`
}

type callJoinReply struct {
	Call       chat.Call        `json:"call"`
	ICEServers []chat.ICEServer `json:"ice_servers"`
}

// caller is one participant: a WebSocket connection that joined the room
// (so it sees call_state) and, once in the call, its Pion peer.
type caller struct {
	acc servertest.Account
	ws  *servertest.Client
	rtc *servertest.RTC
}

func newCaller(t *testing.T, h *servertest.Hub, acc servertest.Account, room string) *caller {
	t.Helper()
	ws := h.Dial(t, servertest.DialOptions{Token: acc.Token})
	ws.Join(room, 0)
	return &caller{acc: acc, ws: ws}
}

// join takes c into the call, publishing a synthetic camera (VP8) and
// microphone (Opus) when publish is set, and waits until its peer has
// answered the SFU's first offer.
func (c *caller) join(t *testing.T, room, callID string, publish bool) callJoinReply {
	t.Helper()
	c.rtc = servertest.NewRTC(t, c.ws, callID)
	if publish {
		if _, err := c.rtc.PublishOpus(sfutest.SourceOptions{ID: "mic", StreamID: c.acc.User.ID}); err != nil {
			t.Fatalf("publish opus: %v", err)
		}
		if _, err := c.rtc.PublishVP8(sfutest.SourceOptions{ID: "cam", StreamID: c.acc.User.ID}); err != nil {
			t.Fatalf("publish vp8: %v", err)
		}
	}
	var r callJoinReply
	c.ws.OK("call_join", map[string]any{"room": room, "call_id": callID}, &r)
	servertest.Eventually(t, c.acc.User.Username+" answers the SFU's offer", func() bool { return c.rtc.Answered() >= 1 })
	return r
}

// trackID is how the SFU names a forwarded track: the publisher's user ID
// and the source.
func trackID(u chat.User, source string) string { return u.ID + ":" + source }

// receives waits until c gets at least n RTP packets on the track, and
// checks they carry the publisher's synthetic payload with sequence
// numbers that only grow.
func (c *caller) receives(t *testing.T, track string, n int64) {
	t.Helper()
	servertest.Eventually(t, c.acc.User.Username+" receives "+track, func() bool {
		s, ok := c.rtc.Track(track)
		return ok && s.Count >= n
	})
	s, _ := c.rtc.Track(track)
	for i, p := range s.Packets {
		if s.Kind.String() == "video" {
			if err := sfutest.CheckPayload(p.Payload); err != nil {
				t.Fatalf("%s on %s: packet %d: %v", c.acc.User.Username, track, i, err)
			}
		}
		if i > 0 && !seqAfter(p.Seq, s.Packets[i-1].Seq) {
			t.Fatalf("%s on %s: seq %d after %d, want increasing", c.acc.User.Username, track, p.Seq, s.Packets[i-1].Seq)
		}
	}
}

// seqAfter reports whether RTP sequence number a comes after b (mod 2^16).
func seqAfter(a, b uint16) bool { return a != b && a-b < 1<<15 }

// lastCallState waits for a call_state event whose call satisfies ok and
// returns it; earlier ones are dropped.
func (c *caller) callState(t *testing.T, what string, ok func(chat.Call) bool) chat.Call {
	t.Helper()
	deadline := time.Now().Add(servertest.Wait)
	for time.Now().Before(deadline) {
		var ev chat.CallStateEvent
		c.ws.Next(chat.EventCallState).Decode(t, &ev)
		if ok(ev.Call) {
			return ev.Call
		}
	}
	t.Fatalf("%s: no call_state with %s", c.acc.User.Username, what)
	return chat.Call{}
}

func participantIDs(c chat.Call) []string {
	var ids []string
	for _, u := range c.Participants {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	return ids
}

func withParticipants(want ...servertest.Account) func(chat.Call) bool {
	var ids []string
	for _, a := range want {
		ids = append(ids, a.User.ID)
	}
	slices.Sort(ids)
	return func(c chat.Call) bool { return c.State == chat.CallActive && slices.Equal(participantIDs(c), ids) }
}

func noErrors(t *testing.T, cs ...*caller) {
	t.Helper()
	for _, c := range cs {
		if c.rtc == nil {
			continue
		}
		for _, err := range c.rtc.Errors() {
			t.Errorf("%s: signaling: %v", c.acc.User.Username, err)
		}
	}
}

// A group call: A publishes video and audio, B and C receive them, A
// receives B's; a screen share added mid-call reaches the others; C
// leaves and the call goes on; B leaves, A's peer loses B's tracks; B
// rejoins on a new connection.
func TestGroupCall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, callEnv(nil))
		alice, bob, carol := h.Register(t, "alice"), h.Register(t, "bob"), h.Register(t, "carol")
		room := h.CreateRoom(t, alice, "walkies", chat.KindPublic)
		a, bo, c := newCaller(t, h, alice, room.ID), newCaller(t, h, bob, room.ID), newCaller(t, h, carol, room.ID)

		var started callReply
		a.ws.OK("call_start", map[string]any{"room": room.ID, "kind": "video"}, &started)
		call := started.Call
		if call.State != chat.CallActive || call.Kind != chat.CallVideo || call.Room != room.ID || len(call.Participants) != 0 {
			t.Fatalf("call_start: got %+v, want an active video call in the room with nobody in it yet", call)
		}
		if j := a.join(t, room.ID, call.ID, true); !slices.Equal(participantIDs(j.Call), []string{alice.User.ID}) || j.ICEServers == nil {
			t.Fatalf("call_join: got %+v, want alice in the call and an ice_servers list", j)
		}
		bo.join(t, room.ID, call.ID, true)
		c.join(t, room.ID, call.ID, false)
		c.callState(t, "alice, bob and carol", withParticipants(alice, bob, carol))

		bo.receives(t, trackID(alice.User, "camera"), 30)
		bo.receives(t, trackID(alice.User, "microphone"), 20)
		c.receives(t, trackID(alice.User, "camera"), 30)
		c.receives(t, trackID(alice.User, "microphone"), 20)
		a.receives(t, trackID(bob.User, "camera"), 30)
		if s, ok := a.rtc.Track(trackID(alice.User, "camera")); ok {
			t.Errorf("alice receives her own camera (%d packets); want only the others' tracks", s.Count)
		}

		// Screen share: the client adds its track, asks, and answers the
		// SFU's new offer.
		if _, err := a.rtc.PublishVP8(sfutest.SourceOptions{ID: "screen", StreamID: alice.User.ID}); err != nil {
			t.Fatalf("publish screen: %v", err)
		}
		a.ws.OK("call_publish", map[string]any{"call_id": call.ID, "source": "screen"}, nil)
		bo.receives(t, trackID(alice.User, "screen"), 30)
		c.receives(t, trackID(alice.User, "screen"), 30)

		c.ws.OK("call_leave", map[string]any{"room": room.ID, "call_id": call.ID}, nil)
		a.callState(t, "alice and bob", withParticipants(alice, bob))
		before, _ := bo.rtc.Track(trackID(alice.User, "camera"))
		bo.receives(t, trackID(alice.User, "camera"), before.Count+30) // the call goes on

		bo.ws.OK("call_leave", map[string]any{"room": room.ID, "call_id": call.ID}, nil)
		a.callState(t, "alice alone", withParticipants(alice))
		servertest.Eventually(t, "alice's peer drops bob's tracks", func() bool {
			return !slices.Contains(a.rtc.ActiveTrackIDs(), trackID(bob.User, "camera"))
		})

		again := newCaller(t, h, bob, room.ID)
		again.join(t, room.ID, call.ID, true)
		again.receives(t, trackID(alice.User, "camera"), 30)
		a.receives(t, trackID(bob.User, "camera"), 30)
		noErrors(t, a, bo, c, again)
	})
}

// A subscriber joining mid-call makes the SFU ask the publisher for a
// keyframe, so the newcomer's video starts at once instead of at the next
// periodic keyframe; a subscriber's NACK is answered by a retransmission.
func TestCallKeyframeAndNACK(t *testing.T) {
	h := startHub(t, embedded(), callEnv(nil))
	alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
	room := h.CreateRoom(t, alice, "walkies", chat.KindPublic)
	a, bo := newCaller(t, h, alice, room.ID), newCaller(t, h, bob, room.ID)
	var started callReply
	a.ws.OK("call_start", map[string]any{"room": room.ID, "kind": "video"}, &started)
	a.rtc = servertest.NewRTC(t, a.ws, started.Call.ID)
	// Keyframes only when asked.
	cam, err := a.rtc.PublishVP8(sfutest.SourceOptions{ID: "cam", KeyframeEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	a.ws.OK("call_join", map[string]any{"room": room.ID, "call_id": started.Call.ID}, nil)
	// Media flows to nobody for a while, so what follows is bob's doing.
	servertest.Eventually(t, "alice sends to the SFU", func() bool { return cam.Sent() >= 30 })
	plis := a.rtc.PLIs()
	bo.join(t, room.ID, started.Call.ID, false)
	servertest.Eventually(t, "a PLI reaches alice after bob joined", func() bool { return a.rtc.PLIs() > plis })
	bo.receives(t, trackID(alice.User, "camera"), 5)
	s, _ := bo.rtc.Track(trackID(alice.User, "camera"))
	if !slices.ContainsFunc(s.Packets, func(p sfutest.Packet) bool { return sfutest.PayloadKeyframe(p.Payload) }) {
		t.Errorf("bob got %d packets of alice's camera and no keyframe; want one", len(s.Packets))
	}

	// Bob lost a packet: his NACK is answered from the SFU's buffer with
	// the same payload under the same (rewritten) sequence number.
	bo.receives(t, trackID(alice.User, "camera"), 40)
	s, _ = bo.rtc.Track(trackID(alice.User, "camera"))
	pick := s.Packets[len(s.Packets)-5]
	if err := bo.rtc.SendNACK(trackID(alice.User, "camera"), pick.Seq); err != nil {
		t.Fatalf("SendNACK: %v", err)
	}
	servertest.Eventually(t, "the retransmission of the NACKed packet", func() bool {
		s, _ := bo.rtc.Track(trackID(alice.User, "camera"))
		n := 0
		for _, p := range s.Packets {
			if p.Seq == pick.Seq {
				if string(p.Payload) != string(pick.Payload) {
					t.Fatalf("retransmission of seq %d: payload differs from the original", p.Seq)
				}
				n++
			}
		}
		return n >= 2
	})
	if got := metric(t, h, "sfu_retransmitted_packets_total"); got < 1 {
		t.Errorf("sfu_retransmitted_packets_total: got %v, want at least 1", got)
	}
	noErrors(t, a, bo)
}

// One-on-one calls in a direct room: the callee's connections ring, and
// the call ends when the callee declines, when nobody answers in time, or
// when either side leaves.
func TestDirectCall(t *testing.T) {
	h := startHub(t, embedded(), callEnv(map[string]string{"HUB_CALL_RING_TIMEOUT": "2s"}))
	alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
	room := h.CreateRoom(t, alice, "", chat.KindDirect, bob.User.ID)
	a := newCaller(t, h, alice, room.ID)
	// Bob has two connections and has joined no room: both ring.
	b1 := &caller{acc: bob, ws: h.Dial(t, servertest.DialOptions{Token: bob.Token})}
	b2 := h.Dial(t, servertest.DialOptions{Token: bob.Token})
	b1.ws.OK("ping", nil, nil) // signed in before the ring
	b2.Do("ping", nil)

	start := func() chat.Call {
		t.Helper()
		var r callReply
		a.ws.OK("call_start", map[string]any{"room": room.ID, "kind": "audio"}, &r)
		if r.Call.State != chat.CallRinging {
			t.Fatalf("call_start in a direct room: got state %q, want ringing", r.Call.State)
		}
		for _, ws := range []*servertest.Client{b1.ws, b2} {
			var ring struct {
				Call chat.Call `json:"call"`
				From chat.User `json:"from"`
			}
			ws.Next(chat.EventCallRing).Decode(t, &ring)
			if ring.Call.ID != r.Call.ID || ring.From.ID != alice.User.ID {
				t.Fatalf("call_ring: got call %s from %s, want %s from alice", ring.Call.ID, ring.From.ID, r.Call.ID)
			}
		}
		return r.Call
	}
	ended := func(reason string) func(chat.Call) bool {
		return func(c chat.Call) bool { return c.State == chat.CallEnded && c.EndedReason == reason }
	}

	t.Run("decline", func(t *testing.T) {
		call := start()
		a.join(t, room.ID, call.ID, true)
		b1.ws.OK("call_decline", map[string]any{"room": room.ID, "call_id": call.ID}, nil)
		a.callState(t, "ended, declined", ended(chat.CallEndDeclined))
	})
	t.Run("ring timeout", func(t *testing.T) {
		call := start()
		got := a.callState(t, "ended, timed out", ended(chat.CallEndTimeout))
		if got.ID != call.ID {
			t.Fatalf("timed out call %s, want %s", got.ID, call.ID)
		}
	})
	t.Run("answer, then the caller leaves", func(t *testing.T) {
		call := start()
		a.join(t, room.ID, call.ID, true)
		b1.join(t, room.ID, call.ID, true)
		a.callState(t, "active with both", func(c chat.Call) bool { return c.State == chat.CallActive && len(c.Participants) == 2 })
		b1.receives(t, trackID(alice.User, "microphone"), 20)
		a.receives(t, trackID(bob.User, "microphone"), 20)
		if _, ok := b1.rtc.Track(trackID(alice.User, "camera")); ok {
			t.Errorf("an audio call forwards a camera track; want audio only")
		}
		a.ws.OK("call_leave", map[string]any{"room": room.ID, "call_id": call.ID}, nil)
		a.callState(t, "ended, left", ended(chat.CallEndLeft))
		var j struct {
			Call *chat.Call `json:"call"`
		}
		a.ws.OK("join", map[string]any{"room": room.ID}, &j)
		if j.Call != nil {
			t.Errorf("join after the call ended: got call %+v, want null", j.Call)
		}
	})
	noErrors(t, a, b1)
}

// A participant whose hub connection drops is taken out of the call (the
// others see call_state without them) and the call goes on.
func TestCallParticipantDisconnects(t *testing.T) {
	h := startHub(t, embedded(), callEnv(nil))
	alice, bob, carol := h.Register(t, "alice"), h.Register(t, "bob"), h.Register(t, "carol")
	room := h.CreateRoom(t, alice, "walkies", chat.KindPublic)
	a, bo, c := newCaller(t, h, alice, room.ID), newCaller(t, h, bob, room.ID), newCaller(t, h, carol, room.ID)
	var started callReply
	a.ws.OK("call_start", map[string]any{"room": room.ID, "kind": "video"}, &started)
	for _, p := range []*caller{a, bo, c} {
		p.join(t, room.ID, started.Call.ID, true)
	}
	a.callState(t, "all three", withParticipants(alice, bob, carol))
	c.ws.Close()
	a.callState(t, "carol gone", withParticipants(alice, bob))
	before, _ := bo.rtc.Track(trackID(alice.User, "camera"))
	bo.receives(t, trackID(alice.User, "camera"), before.Count+30)
}

// Bad input gets an error reply with a clear code, and the call goes on
// for the others.
func TestCallBadInput(t *testing.T) {
	h := startHub(t, embedded(), callEnv(map[string]string{
		"HUB_CALL_MAX_PARTICIPANTS": "3", "HUB_SFU_MAX_TRACKS": "2",
	}))
	alice, bob, carol, dave := h.Register(t, "alice"), h.Register(t, "bob"), h.Register(t, "carol"), h.Register(t, "dave")
	room := h.CreateRoom(t, alice, "walkies", chat.KindPublic)
	private := h.CreateRoom(t, alice, "den", chat.KindPrivate)
	a, bo, c, d := newCaller(t, h, alice, room.ID), newCaller(t, h, bob, room.ID), newCaller(t, h, carol, room.ID), newCaller(t, h, dave, room.ID)

	d.ws.Fail("call_start", map[string]any{"room": room.ID, "kind": "hologram"}, chat.CodeBadRequest)
	d.ws.Fail("call_start", map[string]any{"room": private.ID, "kind": "video"}, chat.CodeNotFound)
	var started callReply
	a.ws.OK("call_start", map[string]any{"room": room.ID, "kind": "video"}, &started)
	call := started.Call
	d.ws.Fail("call_start", map[string]any{"room": room.ID, "kind": "video"}, chat.CodeConflict) // one live call per room
	a.join(t, room.ID, call.ID, true)
	bo.join(t, room.ID, call.ID, true)
	bo.receives(t, trackID(alice.User, "camera"), 20)

	// Carol's client is broken: it joins, then answers the SFU's offer
	// with garbage.
	c.ws.OK("call_join", map[string]any{"room": room.ID, "call_id": call.ID}, nil)
	c.ws.Next(chat.EventRTCOffer)

	goesOn := func() {
		t.Helper()
		before, _ := bo.rtc.Track(trackID(alice.User, "camera"))
		bo.receives(t, trackID(alice.User, "camera"), before.Count+15)
		back, _ := a.rtc.Track(trackID(bob.User, "camera"))
		a.receives(t, trackID(bob.User, "camera"), back.Count+15)
	}
	hostCandidate := map[string]any{"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
	cases := []struct {
		name   string
		who    *servertest.Client
		typ    string
		fields map[string]any
		code   chat.Code
	}{
		{"a broken SDP answer", c.ws, "rtc_answer", map[string]any{"call_id": call.ID, "sdp": "this is not SDP"}, chat.CodeBadRequest},
		{"an answer with no offer pending", a.ws, "rtc_answer", map[string]any{"call_id": call.ID, "sdp": "v=0"}, chat.CodeConflict},
		{"the participant limit", d.ws, "call_join", map[string]any{"room": room.ID, "call_id": call.ID}, chat.CodeConflict},
		{"join an unknown call", d.ws, "call_join", map[string]any{"room": room.ID, "call_id": "call_nope"}, chat.CodeNotFound},
		{"join a call of a room one cannot see", d.ws, "call_join", map[string]any{"room": private.ID, "call_id": call.ID}, chat.CodeNotFound},
		{"an answer for an unknown call", a.ws, "rtc_answer", map[string]any{"call_id": "call_nope", "sdp": "v=0"}, chat.CodeNotFound},
		{"an answer from someone not in the call", d.ws, "rtc_answer", map[string]any{"call_id": call.ID, "sdp": "v=0"}, chat.CodeNotFound},
		{"candidates for someone else's peer", d.ws, "rtc_candidate", map[string]any{"call_id": call.ID, "candidate": hostCandidate}, chat.CodeNotFound},
		{"a broken candidate", a.ws, "rtc_candidate", map[string]any{"call_id": call.ID, "candidate": map[string]any{"candidate": "candidate:garbage", "sdpMid": "0"}}, chat.CodeBadRequest},
		{"a candidate that is not an object", a.ws, "rtc_candidate", map[string]any{"call_id": call.ID, "candidate": 42}, chat.CodeBadRequest},
		{"an unknown source", a.ws, "call_publish", map[string]any{"call_id": call.ID, "source": "hologram"}, chat.CodeBadRequest},
		{"too many tracks", a.ws, "call_publish", map[string]any{"call_id": call.ID, "source": "screen"}, chat.CodeTooLarge},
		{"decline a group call", d.ws, "call_decline", map[string]any{"room": room.ID, "call_id": call.ID}, chat.CodeConflict},
		{"leave a call of another room", a.ws, "call_leave", map[string]any{"room": private.ID, "call_id": call.ID}, chat.CodeNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.who.Fail(tc.typ, tc.fields, tc.code)
			if f.Error.Message == "" {
				t.Errorf("%s: error %s has no message", tc.typ, f.Error.Code)
			}
			goesOn()
		})
	}
	var j struct {
		Call *chat.Call `json:"call"`
	}
	d.ws.OK("join", map[string]any{"room": room.ID}, &j)
	if j.Call == nil || j.Call.State != chat.CallActive || len(j.Call.Participants) != 3 {
		t.Errorf("the call after the bad input: got %+v, want it active with alice, bob and carol", j.Call)
	}
	noErrors(t, a, bo)
}

// Room inspection shows the call: its SFU node and every participant's
// tracks with kind, source and packet counts; the room list counts the
// participants.
func TestCallInspection(t *testing.T) {
	h := startHub(t, embedded(), callEnv(map[string]string{"HUB_NODE_ID": "hub-calls-1", "HUB_BOOTSTRAP_ADMIN": adminEnv}))
	root := admin(t, h)
	alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
	room := h.CreateRoom(t, alice, "walkies", chat.KindPublic)
	a, bo := newCaller(t, h, alice, room.ID), newCaller(t, h, bob, room.ID)
	var started callReply
	a.ws.OK("call_start", map[string]any{"room": room.ID, "kind": "video"}, &started)
	a.join(t, room.ID, started.Call.ID, true)
	bo.join(t, room.ID, started.Call.ID, false)
	bo.receives(t, trackID(alice.User, "camera"), 60)

	var d chat.RoomDetail
	servertest.Eventually(t, "inspection lists alice's two tracks with packets and bitrates", func() bool {
		h.JSON(t, "GET", "/api/admin/rooms/"+room.ID, root.Token, nil, http.StatusOK, &d)
		if d.Call == nil {
			return false
		}
		for _, p := range d.Call.Participants {
			if p.User.ID == alice.User.ID && len(p.Tracks) == 2 &&
				!slices.ContainsFunc(p.Tracks, func(tr chat.TrackInfo) bool { return tr.Packets == 0 || tr.BitrateKbps == 0 }) {
				return true
			}
		}
		return false
	})
	if d.Call.ID != started.Call.ID || d.Call.SFUNode != "hub-calls-1" || len(d.Call.Participants) != 2 {
		t.Fatalf("inspected call: got %+v, want call %s on node hub-calls-1 with alice and bob", d.Call, started.Call.ID)
	}
	for _, p := range d.Call.Participants {
		if p.User.ID == alice.User.ID {
			kinds := map[string]string{}
			for _, tr := range p.Tracks {
				kinds[tr.Source] = tr.Kind
			}
			if kinds["camera"] != "video" || kinds["microphone"] != "audio" {
				t.Errorf("alice's tracks: got %+v, want camera video and microphone audio", p.Tracks)
			}
		}
		if p.User.ID == bob.User.ID && (p.User.Username != bob.User.Username || len(p.Tracks) != 0) {
			t.Errorf("bob: got %+v, want bob by name with no tracks", p)
		}
	}
	var list struct {
		Rooms []chat.RoomStats `json:"rooms"`
	}
	h.JSON(t, "GET", "/api/admin/rooms", root.Token, nil, http.StatusOK, &list)
	i := slices.IndexFunc(list.Rooms, func(r chat.RoomStats) bool { return r.Room.ID == room.ID })
	if i < 0 || list.Rooms[i].CallParticipants != 2 {
		t.Errorf("room list: got %+v, want the room with 2 call participants", list.Rooms)
	}
	raw, _ := json.Marshal(d.Call)
	t.Logf("inspected call: %s", raw)

	// The embedded SFU's metrics are on the hub's /metrics.
	samples, types := scrape(t, h)
	for name, want := range map[string]string{
		"sfu_peers": "gauge", "sfu_tracks": "gauge", "sfu_forwarded_packets_total": "counter",
		"sfu_forwarded_bytes_total": "counter", "sfu_nacks_total": "counter",
		"sfu_retransmitted_packets_total": "counter", "sfu_plis_total": "counter",
	} {
		if types[name] != want {
			t.Errorf("/metrics: %s has type %q, want %s", name, types[name], want)
		}
	}
	if got := samples["sfu_peers"]; got != 2 {
		t.Errorf("sfu_peers: got %v, want 2", got)
	}
	if got := samples["sfu_tracks"]; got != 2 {
		t.Errorf("sfu_tracks: got %v, want 2 (alice's camera and microphone)", got)
	}
	if samples["sfu_forwarded_packets_total"] < 60 || samples["sfu_forwarded_bytes_total"] < 60*100 {
		t.Errorf("forwarded: got %v packets, %v bytes; want at least what bob received", samples["sfu_forwarded_packets_total"], samples["sfu_forwarded_bytes_total"])
	}
	if samples["sfu_plis_total"] < 1 {
		t.Errorf("sfu_plis_total: got %v, want at least the one asked for when bob joined", samples["sfu_plis_total"])
	}
}

// embedded is the backend of the call tests that need only one: Pion peers
// are the costly part, and the services backend is covered by
// TestGroupCall and the cmd/sfu test in clustertest.
func embedded() servertest.Backend { return servertest.Backends()[0] }

// call_join hands out the configured STUN servers and TURN servers with
// coturn REST-API credentials: "<expiry>:<user>" signed with the shared
// secret, valid for HUB_TURN_TTL.
func TestCallICEServers(t *testing.T) {
	const secret = "turn shared secret"
	h := startHub(t, embedded(), callEnv(map[string]string{
		"HUB_STUN_URLS":   "stun:stun.example.com:3478",
		"HUB_TURN_URLS":   "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349",
		"HUB_TURN_SECRET": secret, "HUB_TURN_TTL": "2h",
	}))
	alice := h.Register(t, "alice")
	room := h.CreateRoom(t, alice, "walkies", chat.KindPublic)
	a := newCaller(t, h, alice, room.ID)
	var started callReply
	a.ws.OK("call_start", map[string]any{"room": room.ID, "kind": "audio"}, &started)
	before := time.Now()
	j := a.join(t, room.ID, started.Call.ID, false)
	if len(j.ICEServers) != 2 {
		t.Fatalf("ice_servers: got %+v, want one STUN and one TURN entry", j.ICEServers)
	}
	stun, turn := j.ICEServers[0], j.ICEServers[1]
	if !slices.Equal(stun.URLs, []string{"stun:stun.example.com:3478"}) || stun.Username != "" || stun.Credential != "" {
		t.Errorf("STUN entry: got %+v, want the URL without credentials", stun)
	}
	if !slices.Equal(turn.URLs, []string{"turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"}) {
		t.Errorf("TURN URLs: got %v", turn.URLs)
	}
	expiry, user, ok := strings.Cut(turn.Username, ":")
	if !ok || user != alice.User.ID {
		t.Fatalf("TURN username: got %q, want <expiry>:%s", turn.Username, alice.User.ID)
	}
	exp, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil {
		t.Fatalf("TURN username expiry %q: %v", expiry, err)
	}
	if lo, hi := before.Add(2*time.Hour).Add(-time.Minute).Unix(), time.Now().Add(2*time.Hour).Add(time.Minute).Unix(); exp < lo || exp > hi {
		t.Errorf("TURN expiry: got %d, want about now + 2h (%d..%d)", exp, lo, hi)
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(turn.Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); turn.Credential != want {
		t.Errorf("TURN credential: got %q, want %q", turn.Credential, want)
	}
}

// Starting calls is rate limited per user (each start stores a call and
// tells a whole room): the 11th call_start within a minute is refused
// with a retry hint, and stores nothing.
func TestCallStartRateLimit(t *testing.T) {
	h := startHub(t, embedded(), callEnv(nil))
	alice := h.Register(t, "alice")
	ws := h.Dial(t, servertest.DialOptions{Token: alice.Token})
	var last chat.Room
	for i := range 11 {
		last = h.CreateRoom(t, alice, "room"+strconv.Itoa(i), chat.KindPublic)
		f := ws.Do("call_start", map[string]any{"room": last.ID, "kind": "audio"})
		if i < 10 {
			if !f.OK {
				t.Fatalf("call_start %d: got %s, want ok", i+1, f.Raw)
			}
			continue
		}
		if f.OK || f.Error == nil || f.Error.Code != chat.CodeRateLimited || f.Error.RetryAfter <= 0 {
			t.Fatalf("call_start 11: got %s, want rate_limited with retry_after_ms", f.Raw)
		}
	}
	var j struct {
		Call *chat.Call `json:"call"`
	}
	ws.OK("join", map[string]any{"room": last.ID}, &j)
	if j.Call != nil {
		t.Errorf("the refused call_start stored a call: %+v", j.Call)
	}
}
