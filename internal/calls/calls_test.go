package calls

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

type scenario struct {
	name string
	opts Options
	run  func(t *testing.T, e *env)
}

// TestStateMachine runs every scenario against every store backend.
func TestStateMachine(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					sc.run(t, newEnv(t, be.open(t), sc.opts))
				})
			}
		})
	}
}

// direct sets up alice calling bob in their direct room.
func (e *env) direct() (alice, bob chat.User, room chat.Room, call chat.Call) {
	e.t.Helper()
	alice, bob = e.user("alice"), e.user("bob")
	room = e.room(chat.KindDirect, alice, bob)
	call, err := e.svc.Start(e.t.Context(), e.conn(alice), room.ID, chat.CallVideo)
	must(e.t, "Start", err)
	return alice, bob, room, call
}

var scenarios = []scenario{
	{name: "DirectRingJoinActive", opts: Options{ICE: ICEConfig{STUNURLs: []string{"stun:stun.example:3478"}}}, run: func(t *testing.T, e *env) {
		ctx := t.Context()
		alice, bob, room, call := e.direct()
		if call.State != chat.CallRinging || call.Kind != chat.CallVideo || call.Room != room.ID || len(call.Participants) != 0 {
			t.Fatalf("Start: got %+v, want a ringing video call in %s with nobody in it", call, room.ID)
		}
		rings := e.users.rings(t, bob.ID)
		if len(rings) != 1 || rings[0].Type != chat.EventCallRing || rings[0].Call.ID != call.ID || rings[0].From.ID != alice.ID || rings[0].Room != room.ID {
			t.Fatalf("call_ring to bob: got %+v, want one ring of %s from alice", rings, call.ID)
		}
		if got := e.users.rings(t, alice.ID); len(got) != 0 {
			t.Fatalf("call_ring to alice: got %d, want 0", len(got))
		}
		if got := e.lastState(room.ID); got.ID != call.ID || got.State != chat.CallRinging {
			t.Fatalf("call_state after Start: got %+v, want ringing %s", got, call.ID)
		}

		a := e.conn(alice)
		joined, ice, err := e.svc.Join(ctx, a, room.ID, call.ID)
		must(t, "Join(alice)", err)
		if joined.State != chat.CallRinging || !slices.Equal(userIDs(joined.Participants), []string{alice.ID}) {
			t.Fatalf("Join(alice): got %s with %v, want ringing with alice", joined.State, userIDs(joined.Participants))
		}
		if len(ice) != 1 || ice[0].URLs[0] != "stun:stun.example:3478" || ice[0].Username != "" {
			t.Fatalf("Join ice_servers: got %+v, want the one STUN server without credentials", ice)
		}
		// The SFU's first offer was sent during Join: it must have arrived.
		if got := a.delivered(); len(got) != 1 || !strings.Contains(got[0], `"rtc_offer"`) {
			t.Fatalf("frames to alice's connection: got %q, want the SFU's first rtc_offer", got)
		}
		if got := e.sfu.opsLog(); !slices.Contains(got, "join sfu-1 "+call.ID+" "+a.ID()+" "+alice.ID+" video") {
			t.Fatalf("SFU ops: got %q, want a join of alice's peer on sfu-1", got)
		}

		b := e.conn(bob)
		joined, _, err = e.svc.Join(ctx, b, room.ID, call.ID)
		must(t, "Join(bob)", err)
		if joined.State != chat.CallActive || !slices.Equal(userIDs(joined.Participants), []string{alice.ID, bob.ID}) {
			t.Fatalf("Join(bob): got %s with %v, want active with alice, bob", joined.State, userIDs(joined.Participants))
		}
		if got := e.lastState(room.ID); got.State != chat.CallActive || len(got.Participants) != 2 {
			t.Fatalf("call_state after bob joined: got %+v, want active with 2", got)
		}
		if got := e.record(call.ID); !got.RingUntil.IsZero() {
			t.Fatalf("RingUntil once answered: got %v, want zero", got.RingUntil)
		}
		lc, err := e.svc.LiveCall(ctx, room.ID)
		must(t, "LiveCall", err)
		if lc == nil || lc.ID != call.ID {
			t.Fatalf("LiveCall: got %+v, want %s", lc, call.ID)
		}
		info, err := e.svc.Inspect(ctx, room.ID)
		must(t, "Inspect", err)
		if info == nil || info.SFUNode != "sfu-1" || len(info.Participants) != 2 {
			t.Fatalf("Inspect: got %+v, want the call on sfu-1 with 2 participants", info)
		}
	}},
	{name: "Decline", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		_, bob, room, call := e.direct()
		must(t, "Decline", e.svc.Decline(ctx, e.conn(bob), room.ID, call.ID))
		got := e.lastState(room.ID)
		if got.State != chat.CallEnded || got.EndedReason != chat.CallEndDeclined || got.EndedAt == nil {
			t.Fatalf("call_state after Decline: got %+v, want ended, declined, with ended_at", got)
		}
		if ops := e.sfu.opsLog(); !slices.Contains(ops, "end sfu-1 "+call.ID) {
			t.Fatalf("SFU ops: got %q, want the call ended", ops)
		}
		n := len(e.rooms.states(t, room.ID))
		must(t, "Decline again", e.svc.Decline(ctx, e.conn(bob), room.ID, call.ID))
		if got := len(e.rooms.states(t, room.ID)); got != n {
			t.Fatalf("call_state events after a repeated Decline: got %d, want %d", got, n)
		}
		lc, err := e.svc.LiveCall(ctx, room.ID)
		if err != nil || lc != nil {
			t.Fatalf("LiveCall after Decline: got %+v, %v, want nil, nil", lc, err)
		}
		// A group call does not ring, so it cannot be declined.
		carol := e.user("carol")
		group := e.room(chat.KindPublic, carol)
		gc, err := e.svc.Start(ctx, e.conn(carol), group.ID, chat.CallAudio)
		must(t, "Start(group)", err)
		wantCode(t, "Decline(group)", e.svc.Decline(ctx, e.conn(carol), group.ID, gc.ID), chat.CodeConflict)
		wantCode(t, "Decline(wrong room)", e.svc.Decline(ctx, e.conn(carol), group.ID, call.ID), chat.CodeNotFound)
	}},
	{name: "RingTimeoutBySweeper", opts: Options{RingTimeout: 30 * time.Second, SweepInterval: time.Millisecond}, run: func(t *testing.T, e *env) {
		ctx := t.Context()
		alice, _, room, call := e.direct()
		a := e.conn(alice)
		_, _, err := e.svc.Join(ctx, a, room.ID, call.ID)
		must(t, "Join(alice)", err)

		// Just before the timeout a sweep leaves the call ringing.
		e.clock.Advance(30*time.Second - time.Microsecond)
		e.svc.sweep(ctx)
		if got := e.record(call.ID); got.State != chat.CallRinging {
			t.Fatalf("state before the ring timeout: got %s, want ringing", got.State)
		}

		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- e.svc.Run(runCtx) }()
		e.clock.Advance(time.Microsecond)
		eventually(t, "call ended by the sweeper", func() bool { return !e.record(call.ID).Live() })
		cancel()
		must(t, "Run", <-done)

		got := e.lastState(room.ID)
		if got.State != chat.CallEnded || got.EndedReason != chat.CallEndTimeout || len(got.Participants) != 0 {
			t.Fatalf("call_state after the timeout: got %+v, want ended, timeout, nobody in it", got)
		}
		if ops := e.sfu.opsLog(); !slices.Contains(ops, "end sfu-1 "+call.ID) {
			t.Fatalf("SFU ops: got %q, want the call ended", ops)
		}
		if n := e.bus.subscribers(e.bus.ConnRTC(a.ID())); n != 0 {
			t.Fatalf("rtc subscriptions of alice's connection after the call ended: got %d, want 0", n)
		}
	}},
	{name: "GroupMaxParticipants", opts: Options{MaxParticipants: 2}, run: func(t *testing.T, e *env) {
		ctx := t.Context()
		a, b, c := e.user("alice"), e.user("bob"), e.user("carol")
		room := e.room(chat.KindPublic, a)
		call, err := e.svc.Start(ctx, e.conn(a), room.ID, chat.CallVideo)
		must(t, "Start", err)
		if call.State != chat.CallActive {
			t.Fatalf("group Start: got %s, want active", call.State)
		}
		if got := e.users.rings(t, b.ID); len(got) != 0 {
			t.Fatalf("rings for a group call: got %d, want 0", len(got))
		}
		_, _, err = e.svc.Join(ctx, e.conn(a), room.ID, call.ID)
		must(t, "Join(alice)", err)
		_, _, err = e.svc.Join(ctx, e.conn(b), room.ID, call.ID)
		must(t, "Join(bob)", err)
		cc := e.conn(c)
		_, _, err = e.svc.Join(ctx, cc, room.ID, call.ID)
		wantCode(t, "Join(carol, third of 2)", err, chat.CodeConflict)
		if got := e.record(call.ID); len(got.Participants) != 2 {
			t.Fatalf("participants after a refused join: got %d, want 2", len(got.Participants))
		}
		if n := e.bus.subscribers(e.bus.ConnRTC(cc.ID())); n != 0 {
			t.Fatalf("rtc subscriptions of the refused connection: got %d, want 0", n)
		}
		// A room with a live call refuses a second one.
		_, err = e.svc.Start(ctx, e.conn(b), room.ID, chat.CallAudio)
		wantCode(t, "Start(second call)", err, chat.CodeConflict)
	}},
	{name: "ReplaceConnection", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		a, b := e.user("alice"), e.user("bob")
		room := e.room(chat.KindPrivate, a, b)
		call, err := e.svc.Start(ctx, e.conn(a), room.ID, chat.CallVideo)
		must(t, "Start", err)
		a1, a2 := e.conn(a), e.conn(a)
		_, _, err = e.svc.Join(ctx, a1, room.ID, call.ID)
		must(t, "Join(a1)", err)
		_, _, err = e.svc.Join(ctx, e.conn(b), room.ID, call.ID)
		must(t, "Join(bob)", err)
		got, _, err := e.svc.Join(ctx, a2, room.ID, call.ID)
		must(t, "Join(a2)", err)
		if !slices.Equal(userIDs(got.Participants), []string{b.ID, a.ID}) {
			t.Fatalf("participants after alice rejoined: got %v, want bob, alice once", userIDs(got.Participants))
		}
		rec := e.record(call.ID)
		if rec.Participants[1].Conn != a2.ID() || rec.Participants[1].Hub != "hub-1" {
			t.Fatalf("alice's participation: got %+v, want conn %s on hub-1", rec.Participants[1], a2.ID())
		}
		if ops := e.sfu.opsLog(); !slices.Contains(ops, "leave sfu-1 "+call.ID+" "+a1.ID()) {
			t.Fatalf("SFU ops: got %q, want the old peer %s left", ops, a1.ID())
		}
		if n := e.bus.subscribers(e.bus.ConnRTC(a1.ID())); n != 0 {
			t.Fatalf("rtc subscriptions of the replaced connection: got %d, want 0", n)
		}
		// The replaced connection no longer owns a peer in the call.
		wantCode(t, "Answer(replaced connection)", e.svc.Answer(ctx, a1, call.ID, "v=0"), chat.CodeNotFound)
		must(t, "Answer(a2)", e.svc.Answer(ctx, a2, call.ID, "v=0"))

		// Rejoining on the same connection renews its peer.
		_, _, err = e.svc.Join(ctx, a2, room.ID, call.ID)
		must(t, "Join(a2 again)", err)
		if peers := e.sfu.peerSet(call.ID); len(peers) != 2 {
			t.Fatalf("SFU peers after rejoining: got %v, want 2", peers)
		}
		if n := e.bus.subscribers(e.bus.ConnRTC(a2.ID())); n != 1 {
			t.Fatalf("rtc subscriptions of a2 after rejoining: got %d, want 1", n)
		}
	}},
	{name: "ConnectionInOneCall", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		a := e.user("alice")
		r1, r2 := e.room(chat.KindPublic, a), e.room(chat.KindPublic, a)
		c1, err := e.svc.Start(ctx, e.conn(a), r1.ID, chat.CallAudio)
		must(t, "Start(r1)", err)
		c2, err := e.svc.Start(ctx, e.conn(a), r2.ID, chat.CallAudio)
		must(t, "Start(r2)", err)
		conn := e.conn(a)
		_, _, err = e.svc.Join(ctx, conn, r1.ID, c1.ID)
		must(t, "Join(c1)", err)
		_, _, err = e.svc.Join(ctx, conn, r2.ID, c2.ID)
		wantCode(t, "Join(c2) while in c1", err, chat.CodeConflict)
		must(t, "Leave(c1)", e.svc.Leave(ctx, conn, r1.ID, c1.ID))
		_, _, err = e.svc.Join(ctx, conn, r2.ID, c2.ID)
		must(t, "Join(c2) after leaving c1", err)
		_, _, err = e.svc.Join(ctx, conn, r1.ID, c2.ID)
		wantCode(t, "Join(call of another room)", err, chat.CodeNotFound)
	}},
	{name: "LeaveEndsDirect", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		alice, bob, room, call := e.direct()
		a, b := e.conn(alice), e.conn(bob)
		_, _, err := e.svc.Join(ctx, a, room.ID, call.ID)
		must(t, "Join(alice)", err)
		_, _, err = e.svc.Join(ctx, b, room.ID, call.ID)
		must(t, "Join(bob)", err)
		must(t, "Leave(bob)", e.svc.Leave(ctx, b, room.ID, call.ID))
		got := e.lastState(room.ID)
		if got.State != chat.CallEnded || got.EndedReason != chat.CallEndLeft {
			t.Fatalf("call_state after bob left: got %+v, want ended, left", got)
		}
		if ops := e.sfu.opsLog(); !slices.Contains(ops, "end sfu-1 "+call.ID) {
			t.Fatalf("SFU ops: got %q, want the call ended", ops)
		}
		for _, c := range []*fakeConn{a, b} {
			if n := e.bus.subscribers(e.bus.ConnRTC(c.ID())); n != 0 {
				t.Fatalf("rtc subscriptions of %s after the call ended: got %d, want 0", c.ID(), n)
			}
		}
		must(t, "Leave(ended call)", e.svc.Leave(ctx, a, room.ID, call.ID))
		// The room is free again.
		_, err = e.svc.Start(ctx, e.conn(bob), room.ID, chat.CallAudio)
		must(t, "Start after the end", err)
	}},
	{name: "CallerHangsUpWhileRinging", run: func(t *testing.T, e *env) {
		alice, _, room, call := e.direct()
		must(t, "Leave(caller, never joined)", e.svc.Leave(t.Context(), e.conn(alice), room.ID, call.ID))
		if got := e.lastState(room.ID); got.State != chat.CallEnded || got.EndedReason != chat.CallEndLeft {
			t.Fatalf("call_state: got %+v, want ended, left", got)
		}
	}},
	{name: "LastLeaveEndsGroup", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		a, b := e.user("alice"), e.user("bob")
		room := e.room(chat.KindPublic, a)
		call, err := e.svc.Start(ctx, e.conn(a), room.ID, chat.CallVideo)
		must(t, "Start", err)
		ca, cb := e.conn(a), e.conn(b)
		_, _, err = e.svc.Join(ctx, ca, room.ID, call.ID)
		must(t, "Join(alice)", err)
		_, _, err = e.svc.Join(ctx, cb, room.ID, call.ID)
		must(t, "Join(bob)", err)
		must(t, "Leave(alice)", e.svc.Leave(ctx, ca, room.ID, call.ID))
		got := e.lastState(room.ID)
		if got.State != chat.CallActive || !slices.Equal(userIDs(got.Participants), []string{b.ID}) {
			t.Fatalf("call_state after alice left: got %s %v, want active with bob", got.State, userIDs(got.Participants))
		}
		if ops := e.sfu.opsLog(); !slices.Contains(ops, "leave sfu-1 "+call.ID+" "+ca.ID()) || slices.Contains(ops, "end sfu-1 "+call.ID) {
			t.Fatalf("SFU ops: got %q, want alice's peer left and the call going on", ops)
		}
		wantCode(t, "Leave(alice again)", e.svc.Leave(ctx, ca, room.ID, call.ID), chat.CodeNotFound)
		must(t, "Leave(bob)", e.svc.Leave(ctx, cb, room.ID, call.ID))
		got = e.lastState(room.ID)
		if got.State != chat.CallEnded || got.EndedReason != chat.CallEndEnded {
			t.Fatalf("call_state after the last left: got %+v, want ended, ended", got)
		}
	}},
	{name: "DisconnectedLeaves", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		a, b := e.user("alice"), e.user("bob")
		room := e.room(chat.KindPublic, a)
		call, err := e.svc.Start(ctx, e.conn(a), room.ID, chat.CallVideo)
		must(t, "Start", err)
		ca, cb := e.conn(a), e.conn(b)
		_, _, err = e.svc.Join(ctx, ca, room.ID, call.ID)
		must(t, "Join(alice)", err)
		_, _, err = e.svc.Join(ctx, cb, room.ID, call.ID)
		must(t, "Join(bob)", err)
		e.svc.Disconnected(ctx, ca.ID())
		if got := e.record(call.ID); len(got.Participants) != 1 || got.Participants[0].Conn != cb.ID() {
			t.Fatalf("participants after alice disconnected: got %+v, want bob only", got.Participants)
		}
		if n := e.bus.subscribers(e.bus.ConnRTC(ca.ID())); n != 0 {
			t.Fatalf("rtc subscriptions after disconnect: got %d, want 0", n)
		}
		e.svc.Disconnected(ctx, "conn_never_joined") // a no-op
		e.svc.Disconnected(ctx, cb.ID())
		if got := e.record(call.ID); got.State != chat.CallEnded {
			t.Fatalf("state after the last disconnected: got %s, want ended", got.State)
		}
	}},
	{name: "PeerClosedBySFU", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		a, b := e.user("alice"), e.user("bob")
		room := e.room(chat.KindPublic, a)
		call, err := e.svc.Start(ctx, e.conn(a), room.ID, chat.CallVideo)
		must(t, "Start", err)
		ca, cb := e.conn(a), e.conn(b)
		_, _, err = e.svc.Join(ctx, ca, room.ID, call.ID)
		must(t, "Join(alice)", err)
		_, _, err = e.svc.Join(ctx, cb, room.ID, call.ID)
		must(t, "Join(bob)", err)
		// Alice's peer connection failed and the SFU closed it: she gets
		// the frame and leaves the call; her connection stays, and bob's
		// call goes on.
		closed := `{"type":"rtc_closed","call_id":"` + call.ID + `","reason":"connection_failed"}`
		e.bus.publish(e.bus.ConnRTC(ca.ID()), []byte(closed))
		eventually(t, "alice out of the call", func() bool {
			got := e.record(call.ID)
			return got.Live() && len(got.Participants) == 1 && got.Participants[0].Conn == cb.ID()
		})
		if !slices.Contains(ca.delivered(), closed) {
			t.Fatalf("alice's frames: got %q, want the rtc_closed frame", ca.delivered())
		}
		eventually(t, "alice's rtc subscription dropped", func() bool { return e.bus.subscribers(e.bus.ConnRTC(ca.ID())) == 0 })
		// She joins again on the same connection, as a client would.
		_, _, err = e.svc.Join(ctx, ca, room.ID, call.ID)
		must(t, "Join(alice, again)", err)
		if got := e.record(call.ID); len(got.Participants) != 2 {
			t.Fatalf("participants after alice rejoined: got %+v, want alice and bob", got.Participants)
		}
		// A late rtc_closed of a call she is not in (one she left) reaches
		// her connection too, and changes nothing.
		stale := `{"type":"rtc_closed","call_id":"c_some_other_call","reason":"connection_failed"}`
		e.bus.publish(e.bus.ConnRTC(ca.ID()), []byte(stale))
		eventually(t, "the stale frame delivered", func() bool { return slices.Contains(ca.delivered(), stale) })
		e.svc.Close() // waits for any removal the frame could have started
		if got := e.record(call.ID); len(got.Participants) != 2 {
			t.Fatalf("participants after a stale rtc_closed: got %+v, want alice and bob", got.Participants)
		}
	}},
	{name: "SFULost", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		e.sfu.nodes = []string{"sfu-1", "sfu-2"}
		a := e.user("alice")
		r1, r2 := e.room(chat.KindPublic, a), e.room(chat.KindPublic, a)
		c1, err := e.svc.Start(ctx, e.conn(a), r1.ID, chat.CallVideo)
		must(t, "Start(r1)", err)
		c2, err := e.svc.Start(ctx, e.conn(a), r2.ID, chat.CallVideo)
		must(t, "Start(r2)", err)
		conn := e.conn(a)
		_, _, err = e.svc.Join(ctx, conn, r1.ID, c1.ID)
		must(t, "Join(c1)", err)

		// Two hubs hear of the loss at once; the room hears of it once.
		other := e.hub("hub-2")
		var wg sync.WaitGroup
		wg.Go(func() { e.svc.SFULost(ctx, "sfu-1") })
		wg.Go(func() { other.SFULost(ctx, "sfu-1") })
		wg.Wait()
		var ended []chat.Call
		for _, st := range e.rooms.states(t, r1.ID) {
			if st.State == chat.CallEnded {
				ended = append(ended, st)
			}
		}
		if len(ended) != 1 || ended[0].EndedReason != chat.CallEndSFULost {
			t.Fatalf("ended call_state events in r1: got %+v, want exactly one with reason sfu_lost", ended)
		}
		if ops := e.sfu.opsLog(); slices.Contains(ops, "end sfu-1 "+c1.ID) {
			t.Fatalf("SFU ops: got %q, want no End sent to the dead node", ops)
		}
		if got := e.record(c2.ID); got.State != chat.CallActive || got.SFUNode != "sfu-2" {
			t.Fatalf("call on sfu-2: got %s on %s, want active on sfu-2", got.State, got.SFUNode)
		}
		if n := e.bus.subscribers(e.bus.ConnRTC(conn.ID())); n != 0 {
			t.Fatalf("rtc subscriptions after the SFU was lost: got %d, want 0", n)
		}
	}},
	{name: "HubLost", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		other := e.hub("hub-2")
		alice, bob, room, call := e.direct()
		carol := e.user("carol")
		group := e.room(chat.KindPublic, carol)
		gc, err := e.svc.Start(ctx, e.conn(carol), group.ID, chat.CallAudio)
		must(t, "Start(group)", err)
		_, _, err = e.svc.Join(ctx, e.conn(alice), room.ID, call.ID)
		must(t, "Join(alice, hub-1)", err)
		_, _, err = other.Join(ctx, e.conn(bob), room.ID, call.ID)
		must(t, "Join(bob, hub-2)", err)
		_, _, err = e.svc.Join(ctx, e.conn(carol), group.ID, gc.ID)
		must(t, "Join(carol, hub-1)", err)
		bc := e.conn(bob)
		_, _, err = other.Join(ctx, bc, group.ID, gc.ID)
		must(t, "Join(bob, hub-2, group)", err)

		e.svc.HubLost(ctx, "hub-2")
		if got := e.lastState(room.ID); got.State != chat.CallEnded || got.EndedReason != chat.CallEndHubLost {
			t.Fatalf("direct call after bob's hub died: got %+v, want ended, hub_lost", got)
		}
		got := e.record(gc.ID)
		if got.State != chat.CallActive || len(got.Participants) != 1 || got.Participants[0].User.ID != carol.ID {
			t.Fatalf("group call after bob's hub died: got %s %+v, want active with carol", got.State, got.Participants)
		}
		if ops := e.sfu.opsLog(); !slices.Contains(ops, "leave sfu-1 "+gc.ID+" "+bc.ID()) {
			t.Fatalf("SFU ops: got %q, want bob's peer left", ops)
		}
		// hub-2's own memory of bob goes at its next sweep.
		other.sweep(ctx)
		if n := e.bus.subscribers(e.bus.ConnRTC(bc.ID())); n != 0 {
			t.Fatalf("rtc subscriptions of bob on hub-2 after its sweep: got %d, want 0", n)
		}
	}},
	{name: "ReapAfterRestart", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		old := e.hub("hub-old")
		a, b := e.user("alice"), e.user("bob")
		r1 := e.room(chat.KindPublic, a)
		c1, err := old.Start(ctx, e.conn(a), r1.ID, chat.CallVideo)
		must(t, "Start(r1)", err)
		_, _, err = old.Join(ctx, e.conn(a), r1.ID, c1.ID)
		must(t, "Join(alice, old hub)", err)
		_, _, err = e.svc.Join(ctx, e.conn(b), r1.ID, c1.ID)
		must(t, "Join(bob, hub-1)", err)
		e.sfu.nodes = []string{"sfu-old"}
		r2 := e.room(chat.KindPublic, a)
		c2, err := e.svc.Start(ctx, e.conn(a), r2.ID, chat.CallVideo)
		must(t, "Start(r2)", err)

		// A call started just now on a node hub-1 has not heard from yet
		// is not judged: its first beat may be on the way.
		e.clock.Advance(20 * time.Second)
		e.sfu.nodes = []string{"sfu-new"}
		r3 := e.room(chat.KindPublic, a)
		c3, err := e.svc.Start(ctx, e.conn(a), r3.ID, chat.CallVideo)
		must(t, "Start(r3)", err)

		// hub-1 knows only itself and sfu-1 to be alive.
		e.svc.Reap(ctx, func(n string) bool { return n == "hub-1" }, func(n string) bool { return n == "sfu-1" })
		if got := e.record(c3.ID); !got.Live() {
			t.Fatalf("a call started moments ago on an unheard-of node: got %s %q, want it left alone", got.State, got.EndedReason)
		}
		got := e.record(c1.ID)
		if !got.Live() || len(got.Participants) != 1 || got.Participants[0].User.ID != b.ID {
			t.Fatalf("call on a live SFU after the reap: got %s %+v, want live with bob only", got.State, got.Participants)
		}
		if got := e.record(c2.ID); got.State != chat.CallEnded || got.EndedReason != chat.CallEndSFULost {
			t.Fatalf("call on a dead SFU after the reap: got %s %q, want ended, sfu_lost", got.State, got.EndedReason)
		}
	}},
	{name: "SignalingOnlyForOwnPeer", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		a, b := e.user("alice"), e.user("bob")
		room := e.room(chat.KindPublic, a)
		call, err := e.svc.Start(ctx, e.conn(a), room.ID, chat.CallVideo)
		must(t, "Start", err)
		ca, cb := e.conn(a), e.conn(b)
		_, _, err = e.svc.Join(ctx, ca, room.ID, call.ID)
		must(t, "Join(alice)", err)
		cand := json.RawMessage(`{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}`)

		// bob never joined: he cannot signal for any peer of the call.
		wantCode(t, "Answer(not joined)", e.svc.Answer(ctx, cb, call.ID, "v=0"), chat.CodeNotFound)
		wantCode(t, "Candidate(not joined)", e.svc.Candidate(ctx, cb, call.ID, cand), chat.CodeNotFound)
		wantCode(t, "Publish(not joined)", e.svc.Publish(ctx, cb, call.ID, chat.SourceScreen), chat.CodeNotFound)
		wantCode(t, "Answer(unknown call)", e.svc.Answer(ctx, ca, "c_unknown", "v=0"), chat.CodeNotFound)

		must(t, "Answer(own)", e.svc.Answer(ctx, ca, call.ID, "v=0"))
		must(t, "Candidate(own)", e.svc.Candidate(ctx, ca, call.ID, cand))
		must(t, "Publish(own)", e.svc.Publish(ctx, ca, call.ID, chat.SourceScreen))
		for _, want := range []string{
			"answer sfu-1 " + call.ID + " " + ca.ID(),
			"candidate sfu-1 " + call.ID + " " + ca.ID(),
			"publish sfu-1 " + call.ID + " " + ca.ID() + " screen",
		} {
			if !slices.Contains(e.sfu.opsLog(), want) {
				t.Fatalf("SFU ops: got %q, want %q", e.sfu.opsLog(), want)
			}
		}
		wantCode(t, "Publish(bad source)", e.svc.Publish(ctx, ca, call.ID, "window"), chat.CodeBadRequest)
		wantCode(t, "Answer(empty sdp)", e.svc.Answer(ctx, ca, call.ID, ""), chat.CodeBadRequest)
		wantCode(t, "Candidate(empty)", e.svc.Candidate(ctx, ca, call.ID, nil), chat.CodeBadRequest)
	}},
	{name: "BadInputAndAccess", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		a, b := e.user("alice"), e.user("bob")
		pub := e.room(chat.KindPublic, a)
		priv := e.room(chat.KindPrivate, a)
		_, err := e.svc.Start(ctx, e.conn(a), pub.ID, "hologram")
		wantCode(t, "Start(bad kind)", err, chat.CodeBadRequest)
		_, err = e.svc.Start(ctx, e.conn(b), priv.ID, chat.CallVideo)
		wantCode(t, "Start(private room, not a member)", err, chat.CodeForbidden)
		_, err = e.svc.Start(ctx, e.conn(a), "r_missing", chat.CallVideo)
		wantCode(t, "Start(no room)", err, chat.CodeNotFound)
		call, err := e.svc.Start(ctx, e.conn(a), priv.ID, chat.CallVideo)
		must(t, "Start(private)", err)
		_, _, err = e.svc.Join(ctx, e.conn(b), priv.ID, call.ID)
		wantCode(t, "Join(private room, not a member)", err, chat.CodeForbidden)
		_, _, err = e.svc.Join(ctx, e.conn(a), priv.ID, "c_unknown")
		wantCode(t, "Join(unknown call)", err, chat.CodeNotFound)
	}},
	{name: "FailedSFUJoinIsUndone", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		a := e.user("alice")
		room := e.room(chat.KindPublic, a)
		call, err := e.svc.Start(ctx, e.conn(a), room.ID, chat.CallVideo)
		must(t, "Start", err)
		e.sfu.mu.Lock()
		e.sfu.joinErr = errors.New("node unreachable")
		e.sfu.mu.Unlock()
		conn := e.conn(a)
		_, _, err = e.svc.Join(ctx, conn, room.ID, call.ID)
		wantCode(t, "Join(SFU down)", err, chat.CodeUnavailable)
		got := e.record(call.ID)
		if !got.Live() || len(got.Participants) != 0 || got.RingUntil.IsZero() {
			t.Fatalf("call after a failed join: got %s %+v ring_until %v, want live, empty, waiting for its timeout", got.State, got.Participants, got.RingUntil)
		}
		if n := e.bus.subscribers(e.bus.ConnRTC(conn.ID())); n != 0 {
			t.Fatalf("rtc subscriptions after a failed join: got %d, want 0", n)
		}
		// The node may finish a join the hub gave up on: the hub asked it
		// to leave again, and a retry on the same connection works.
		if ops := e.sfu.opsLog(); !slices.Contains(ops, "leave sfu-1 "+call.ID+" "+conn.ID()) {
			t.Fatalf("SFU ops after a failed join: got %q, want a leave for the peer", ops)
		}
		e.sfu.mu.Lock()
		e.sfu.joinErr = nil
		e.sfu.mu.Unlock()
		_, _, err = e.svc.Join(ctx, conn, room.ID, call.ID)
		must(t, "Join(retry)", err)
	}},
	{name: "CallEndsWhileTheSFUJoins", run: func(t *testing.T, e *env) {
		ctx := t.Context()
		alice, bob, room, call := e.direct()
		other := e.hub("hub-2")
		ca, cb := e.conn(alice), e.conn(bob)
		_, _, err := e.svc.Join(ctx, ca, room.ID, call.ID)
		must(t, "Join(alice)", err)
		// Alice hangs up on another hub while the SFU is adding bob.
		e.sfu.mu.Lock()
		e.sfu.onJoin = func() {
			must(t, "Leave(alice) on hub-2", other.Leave(context.Background(), e.conn(alice), room.ID, call.ID))
		}
		e.sfu.mu.Unlock()
		_, _, err = e.svc.Join(ctx, cb, room.ID, call.ID)
		wantCode(t, "Join(bob) as the call ends", err, chat.CodeNotFound)
		if peers := e.sfu.peerSet(call.ID); len(peers) != 0 {
			t.Fatalf("SFU peers of the ended call: got %v, want none", peers)
		}
		if n := e.bus.subscribers(e.bus.ConnRTC(cb.ID())); n != 0 {
			t.Fatalf("bob's rtc subscriptions: got %d, want 0", n)
		}
	}},
	{name: "TURNServers", opts: Options{ICE: ICEConfig{
		STUNURLs: []string{"stun:stun.example:3478"}, TURNURLs: []string{"turn:turn.example:3478?transport=udp", "turns:turn.example:5349"},
		TURNSecret: "s3cret", TURNTTL: time.Hour,
	}}, run: func(t *testing.T, e *env) {
		a := e.user("alice")
		room := e.room(chat.KindPublic, a)
		call, err := e.svc.Start(t.Context(), e.conn(a), room.ID, chat.CallVideo)
		must(t, "Start", err)
		_, ice, err := e.svc.Join(t.Context(), e.conn(a), room.ID, call.ID)
		must(t, "Join", err)
		if len(ice) != 2 || len(ice[1].URLs) != 2 {
			t.Fatalf("ice_servers: got %+v, want STUN then the two TURN URLs", ice)
		}
		wantUser, wantCred := independentCredential("s3cret", a.ID, e.clock.Now().Add(time.Hour).Unix())
		if ice[1].Username != wantUser || ice[1].Credential != wantCred {
			t.Fatalf("TURN credential: got %q/%q, want %q/%q", ice[1].Username, ice[1].Credential, wantUser, wantCred)
		}
	}},
}

// independentCredential computes coturn's REST credential from its
// definition, without TURNCredential.
func independentCredential(secret, userID string, expiry int64) (string, string) {
	username := strings.Join([]string{formatInt(expiry), userID}, ":")
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func formatInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestTURNCredential(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secret  string
		user    string
		expires time.Time
		// wantCred, where set, was computed outside Go:
		// printf '1700000000:alice' | openssl sha1 -hmac north -binary | base64
		wantUser, wantCred string
	}{
		{"fixed", "north", "alice", time.Unix(1700000000, 0), "1700000000:alice", "Cd/49soE35ICqcJF/bCTn8Z4OyE="},
		{"other secret", "south", "alice", time.Unix(1700000000, 0), "1700000000:alice", "FJeNoC0yJtNekwCa5JT/sW/1Ls4="},
		{"user id with prefix", "north", "u_0abc", time.Unix(1800000000, 999), "1800000000:u_0abc", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotUser, gotCred := TURNCredential(tc.secret, tc.user, tc.expires)
			wantUser, wantCred := independentCredential(tc.secret, tc.user, tc.expires.Unix())
			if tc.wantCred != "" && wantCred != tc.wantCred {
				t.Fatalf("independent credential: got %q, want %q (openssl)", wantCred, tc.wantCred)
			}
			if gotUser != tc.wantUser || gotUser != wantUser {
				t.Errorf("username: got %q, want %q", gotUser, tc.wantUser)
			}
			if gotCred != wantCred {
				t.Errorf("credential: got %q, want %q", gotCred, wantCred)
			}
		})
	}
}
