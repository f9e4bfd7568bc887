package calls

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Start starts a call in roomID. In a direct room it rings the other
// member (call_ring on all their connections) and stays ringing until they
// join; elsewhere it is active at once. Nobody is in the call until they
// Join, the starter included. A room holds one live call: conflict if it
// already has one.
func (s *Service) Start(ctx context.Context, c Conn, roomID string, kind chat.CallKind) (chat.Call, error) {
	if !kind.Valid() {
		return chat.Call{}, chat.Errorf(chat.CodeBadRequest, "kind must be %q or %q", chat.CallVideo, chat.CallAudio)
	}
	u := c.User()
	room, err := s.rooms.CanJoin(ctx, u, roomID)
	if err != nil {
		return chat.Call{}, err
	}
	now := s.now()
	rec := chat.CallRecord{
		ID:           chat.NewID("c_"),
		Room:         room.ID,
		Kind:         kind,
		State:        chat.CallActive,
		StartedBy:    u.ID,
		StartedAt:    now,
		RingUntil:    now.Add(s.o.RingTimeout),
		Invited:      []string{},
		Participants: []chat.CallMember{},
	}
	if room.Kind == chat.KindDirect {
		members, err := s.rooms.Members(ctx, room.ID)
		if err != nil {
			return chat.Call{}, storeErr("members", err)
		}
		for _, m := range members {
			if m.User.ID != u.ID {
				rec.Invited = append(rec.Invited, m.User.ID)
			}
		}
		if len(rec.Invited) == 0 {
			return chat.Call{}, chat.Errorf(chat.CodeConflict, "nobody else is in this direct room to call")
		}
		rec.State = chat.CallRinging
	}
	// The store decides (a unique index), but asking first spares placing a
	// call on an SFU node for nothing.
	if live, err := s.store.LiveCall(ctx, room.ID); err == nil {
		return chat.Call{}, chat.Errorf(chat.CodeConflict, "room already has a live call %s", live.ID)
	} else if !errors.Is(err, chat.ErrNotFound) {
		return chat.Call{}, storeErr("live call", err)
	}
	node, err := s.sfu.Place(ctx)
	if err != nil {
		return chat.Call{}, sfuErr("place call", err)
	}
	rec.SFUNode = node
	// Counted only for a start that would store a call: one refused for a
	// missing SFU node or a live call costs nothing to retry.
	if err := s.allow(ctx, "call_start:"+u.ID, startLimit, startWindow); err != nil {
		return chat.Call{}, err
	}
	stored, err := s.store.CreateCall(ctx, rec)
	if errors.Is(err, chat.ErrConflict) {
		return chat.Call{}, chat.Errorf(chat.CodeConflict, "room already has a live call")
	}
	if err != nil {
		return chat.Call{}, storeErr("create call", err)
	}
	s.publish(ctx, stored)
	if direct(stored) {
		frame, err := json.Marshal(chat.CallRingEvent{Type: chat.EventCallRing, Room: stored.Room, Call: stored.Call(), From: u})
		if err != nil {
			return chat.Call{}, chat.Wrap(chat.CodeInternal, err, "internal error")
		}
		for _, id := range stored.Invited {
			if err := s.users.DeliverToUser(ctx, id, frame); err != nil {
				// The call_state to the room still tells every open
				// client of the callee; the ring is the louder copy.
				s.log.WarnContext(ctx, "calls: ring", "call", stored.ID, "user", id, "err", err)
			}
		}
	}
	return stored.Call(), nil
}

// Join puts connection c into the call: it subscribes c to the SFU's
// frames for it, then asks the SFU node for a peer, which sends c its
// first rtc_offer. The callee joining makes a ringing call active. The
// same user joining from another connection replaces that connection
// (whose peer leaves); a connection already in another live call gets
// conflict, and so does a participant over MaxParticipants.
func (s *Service) Join(ctx context.Context, c Conn, roomID, callID string) (chat.Call, []chat.ICEServer, error) {
	u := c.User()
	if _, err := s.rooms.CanJoin(ctx, u, roomID); err != nil {
		return chat.Call{}, nil, err
	}
	if err := s.allow(ctx, "call_join:"+u.ID, joinLimit, joinWindow); err != nil {
		return chat.Call{}, nil, err
	}
	if l := s.localOf(c.ID()); l != nil && l.call != callID {
		other, err := s.store.CallByID(ctx, l.call)
		switch {
		case err == nil && other.Live() && hasConn(other, c.ID()):
			return chat.Call{}, nil, chat.Errorf(chat.CodeConflict, "this connection is in call %s; leave it first", l.call)
		case err != nil && !errors.Is(err, chat.ErrNotFound):
			return chat.Call{}, nil, storeErr("read call", err)
		}
		// That call ended or dropped this connection elsewhere.
		s.dropLocal(c.ID(), l.call)
	}
	me := chat.CallMember{User: u, Conn: c.ID(), Hub: s.o.HubNode, JoinedAt: s.now()}
	before, after, changed, err := s.mutate(ctx, callID, func(rec *chat.CallRecord) (bool, error) {
		if rec.Room != roomID || !rec.Live() {
			return false, chat.Errorf(chat.CodeNotFound, "no live call %s in this room", callID)
		}
		kept := make([]chat.CallMember, 0, len(rec.Participants)+1)
		for _, m := range rec.Participants {
			if m.User.ID != u.ID && m.Conn != c.ID() {
				kept = append(kept, m)
			}
		}
		if len(kept) >= s.o.MaxParticipants {
			return false, chat.Errorf(chat.CodeConflict, "call is full (%d participants)", s.o.MaxParticipants)
		}
		rec.Participants = append(kept, me)
		if rec.State == chat.CallRinging && u.ID != rec.StartedBy {
			rec.State = chat.CallActive
		}
		if rec.State == chat.CallActive {
			rec.RingUntil = time.Time{}
		}
		return true, nil
	})
	if err != nil {
		return chat.Call{}, nil, err
	}
	if !changed {
		return chat.Call{}, nil, chat.Errorf(chat.CodeInternal, "join changed nothing")
	}
	// Replaced connections, and an earlier peer of this very connection,
	// leave the SFU before this peer joins it.
	s.settle(ctx, before, after)
	if hasConn(before, c.ID()) {
		if err := s.sfu.Leave(ctx, after.SFUNode, after.ID, c.ID()); err != nil && chat.AsError(err).Code != chat.CodeNotFound {
			s.log.WarnContext(ctx, "calls: leave the SFU before rejoining", "call", after.ID, "peer", c.ID(), "err", err)
		}
	}

	// Subscribed before the SFU is asked, so the first offer is not missed.
	l := &local{conn: c, call: after.ID, room: after.Room, node: after.SFUNode, joined: me.JoinedAt}
	sub, err := s.bus.Subscribe(s.bus.ConnRTC(c.ID()), s.rtcFrames(l))
	if err != nil {
		s.undoJoin(ctx, callID, c.ID())
		return chat.Call{}, nil, chat.Wrap(chat.CodeUnavailable, err, "the bus is unavailable; retry later")
	}
	l.sub = sub
	s.addLocal(l)
	if err := s.sfu.Join(ctx, after.SFUNode, after.ID, c.ID(), u.ID, string(after.Kind)); err != nil {
		s.dropLocal(c.ID(), after.ID)
		if chat.AsError(err).Code != chat.CodeBadRequest {
			// A join that timed out here may still complete on the node
			// (the node's queue runs it after all): the leave queued
			// behind it closes that peer.
			s.leaveSFU(after.SFUNode, after.ID, c.ID())
		}
		s.undoJoin(ctx, callID, c.ID())
		return chat.Call{}, nil, sfuErr("join", err)
	}
	// The call may have ended on another hub while the SFU was joining;
	// its End ran before this peer existed.
	if now, err := s.store.CallByID(ctx, after.ID); err == nil && (!now.Live() || !hasConn(now, c.ID())) {
		s.dropLocal(c.ID(), after.ID)
		s.leaveSFU(after.SFUNode, after.ID, c.ID())
		return chat.Call{}, nil, chat.Errorf(chat.CodeNotFound, "call %s ended while joining", after.ID)
	}
	s.publish(ctx, after)
	return after.Call(), s.iceServers(u.ID), nil
}

// undoJoin takes a connection whose SFU join failed back out of the call
// without ending it over that: the client may simply retry. A call left
// with nobody in it waits for its ring timeout again.
func (s *Service) undoJoin(ctx context.Context, callID, connID string) {
	_, err := s.commit(ctx, callID, func(rec *chat.CallRecord) (bool, error) {
		if !rec.Live() || !hasConn(*rec, connID) {
			return false, nil
		}
		kept := make([]chat.CallMember, 0, len(rec.Participants))
		for _, m := range rec.Participants {
			if m.Conn != connID {
				kept = append(kept, m)
			}
		}
		rec.Participants = kept
		if len(kept) == 0 && rec.RingUntil.IsZero() {
			rec.RingUntil = s.now().Add(s.o.RingTimeout)
		}
		return true, nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "calls: undo a failed join", "call", callID, "conn", connID, "err", err)
	}
}

// remove drops the members drop selects from a live call. A direct call
// ends (for reason) when endDirect is set; a group call left empty ends
// with CallEndEnded, or reason if that is CallEndHubLost.
func (s *Service) remove(rec *chat.CallRecord, drop func(chat.CallMember) bool, endDirect bool, reason string) {
	kept := make([]chat.CallMember, 0, len(rec.Participants))
	for _, m := range rec.Participants {
		if !drop(m) {
			kept = append(kept, m)
		}
	}
	rec.Participants = kept
	switch {
	case direct(*rec) && endDirect:
		s.end(rec, reason)
	case !direct(*rec) && len(kept) == 0 && rec.RingUntil.IsZero():
		// Someone was in it and now nobody is. A group call nobody has
		// joined yet is left to its ring timeout instead.
		if reason != chat.CallEndHubLost {
			reason = chat.CallEndEnded
		}
		s.end(rec, reason)
	}
}

// Decline ends a ringing direct call (reason declined). An already ended
// call is declined already.
func (s *Service) Decline(ctx context.Context, c Conn, roomID, callID string) error {
	if _, err := s.rooms.CanJoin(ctx, c.User(), roomID); err != nil {
		return err
	}
	_, err := s.commit(ctx, callID, func(rec *chat.CallRecord) (bool, error) {
		switch {
		case rec.Room != roomID:
			return false, chat.Errorf(chat.CodeNotFound, "no call %s in this room", callID)
		case !rec.Live():
			return false, nil
		case !direct(*rec) || rec.State != chat.CallRinging:
			return false, chat.Errorf(chat.CodeConflict, "call %s is not ringing", callID)
		}
		s.end(rec, chat.CallEndDeclined)
		return true, nil
	})
	return err
}

// Leave takes c out of the call. Either side leaving a direct call ends it
// (even before joining: that is how a caller hangs up); a group call ends
// when its last participant leaves. Leaving an ended call is a no-op.
func (s *Service) Leave(ctx context.Context, c Conn, roomID, callID string) error {
	if _, err := s.rooms.CanJoin(ctx, c.User(), roomID); err != nil {
		return err
	}
	l := s.localOf(c.ID())
	rec, err := s.commit(ctx, callID, func(rec *chat.CallRecord) (bool, error) {
		switch {
		case rec.Room != roomID:
			return false, chat.Errorf(chat.CodeNotFound, "no call %s in this room", callID)
		case !rec.Live():
			return false, nil
		case direct(*rec):
			s.end(rec, chat.CallEndLeft)
			return true, nil
		case !hasConn(*rec, c.ID()):
			return false, chat.Errorf(chat.CodeNotFound, "this connection is not in call %s", callID)
		}
		s.remove(rec, func(m chat.CallMember) bool { return m.Conn == c.ID() }, true, chat.CallEndLeft)
		return true, nil
	})
	// Whatever happened in the store, this connection is out of the call.
	s.dropLocal(c.ID(), callID)
	if err == nil && l != nil && l.call == callID && !rec.Live() {
		// Ended by someone else: its End closed every peer the node knew
		// then, but not one whose join finished later.
		s.leaveSFU(l.node, callID, c.ID())
	}
	return err
}

// leaveSFU takes a peer off its SFU node, best effort and on its own
// deadline (the caller's may be spent): a peer the node no longer has is
// fine.
func (s *Service) leaveSFU(node, callID, peer string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.sfu.Leave(ctx, node, callID, peer); err != nil && chat.AsError(err).Code != chat.CodeNotFound {
		s.log.WarnContext(ctx, "calls: take a peer off the SFU", "call", callID, "peer", peer, "node", node, "err", err)
	}
}

// rtcClosedPrefix starts the frame an SFU node sends when it closed a
// peer by itself (sfurpc's rtc_closed); it is the only frame calls reads.
var rtcClosedPrefix = []byte(`{"type":"rtc_closed"`)

// rtcFrames hands the SFU's frames for l's connection to the client. An
// rtc_closed frame (the peer's connection failed, and the SFU closed it)
// also takes that participation out of the call, as a leave would: the
// client may join again.
func (s *Service) rtcFrames(l *local) func([]byte) {
	return func(frame []byte) {
		l.conn.Deliver(frame)
		if !bytes.HasPrefix(frame, rtcClosedPrefix) {
			return
		}
		// Frames for the connection arrive on one subject whatever the
		// call: a late rtc_closed of a call it has left must not take it
		// out of the one it is in now.
		var closed struct {
			CallID string `json:"call_id"`
		}
		if json.Unmarshal(frame, &closed) != nil || closed.CallID != l.call {
			return
		}
		// Off the bus's delivery goroutine: this is store work.
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			s.peerFailed(ctx, l)
		}()
	}
}

// peerFailed takes the participation l, whose peer the SFU closed, out of
// the call; the connection itself stays open. A later join of the same
// connection (the client reacting at once) is another participation and
// is left alone.
func (s *Service) peerFailed(ctx context.Context, l *local) {
	connID := l.conn.ID()
	s.mu.Lock()
	mine := s.conns[connID] == l
	if mine {
		delete(s.conns, connID)
	}
	s.mu.Unlock()
	if mine {
		s.unsubscribe(l)
	}
	this := func(m chat.CallMember) bool { return m.Conn == connID && m.JoinedAt.Equal(l.joined) }
	_, err := s.commit(ctx, l.call, func(rec *chat.CallRecord) (bool, error) {
		if !rec.Live() || !containsFunc(rec.Participants, this) {
			return false, nil
		}
		s.remove(rec, this, true, chat.CallEndLeft)
		return true, nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "calls: leave after the SFU closed a failed peer", "call", l.call, "conn", connID, "err", err)
	}
}

// Disconnected is Leave for a connection that closed: the gateway calls it
// once, after the connection's last command.
func (s *Service) Disconnected(ctx context.Context, connID string) {
	l := s.localOf(connID)
	if l == nil {
		return
	}
	s.dropLocal(connID, l.call)
	rec, err := s.commit(ctx, l.call, func(rec *chat.CallRecord) (bool, error) {
		if !rec.Live() || !hasConn(*rec, connID) {
			return false, nil
		}
		s.remove(rec, func(m chat.CallMember) bool { return m.Conn == connID }, true, chat.CallEndLeft)
		return true, nil
	})
	if err == nil && !rec.Live() {
		s.leaveSFU(l.node, l.call, connID) // as in Leave
	}
	if err != nil {
		s.log.WarnContext(ctx, "calls: leave a closed connection's call", "call", l.call, "conn", connID, "err", err)
	}
}

// HubLost removes the participants held by a hub that died: a direct call
// they were in ends, and so does a group call they leave empty (reason
// hub_lost). Every surviving hub may call it; each change is made once.
func (s *Service) HubLost(ctx context.Context, hubNode string) {
	s.forLive(ctx, "hub lost", func(c chat.CallRecord) bool {
		return containsFunc(c.Participants, func(m chat.CallMember) bool { return m.Hub == hubNode })
	}, func(rec *chat.CallRecord) (bool, error) {
		if !rec.Live() || !containsFunc(rec.Participants, func(m chat.CallMember) bool { return m.Hub == hubNode }) {
			return false, nil
		}
		s.remove(rec, func(m chat.CallMember) bool { return m.Hub == hubNode }, true, chat.CallEndHubLost)
		return true, nil
	})
}

// SFULost ends every live call hosted on an SFU node that died (reason
// sfu_lost), so clients can start a new one.
func (s *Service) SFULost(ctx context.Context, sfuNode string) {
	s.forLive(ctx, "sfu lost", func(c chat.CallRecord) bool { return c.SFUNode == sfuNode },
		func(rec *chat.CallRecord) (bool, error) {
			if !rec.Live() || rec.SFUNode != sfuNode {
				return false, nil
			}
			s.end(rec, chat.CallEndSFULost)
			return true, nil
		})
	// Every call on the node has ended, by this hub or another: this
	// hub's connections in them are done with it.
	var gone []*local
	s.mu.Lock()
	for id, l := range s.conns {
		if l.node == sfuNode {
			delete(s.conns, id)
			gone = append(gone, l)
		}
	}
	s.mu.Unlock()
	for _, l := range gone {
		s.unsubscribe(l)
	}
}

// Reap clears what no node is left to hold, for when node loss was never
// observed (a single hub restarting under a new node ID, say): live calls
// on an SFU node sfuAlive rejects end (sfu_lost), and participants on a
// hub hubAlive rejects are removed as by HubLost. The caller must know
// the answer for every node; one it merely has not heard from yet counts
// as dead here.
func (s *Service) Reap(ctx context.Context, hubAlive, sfuAlive func(node string) bool) {
	// What appeared moments ago may be on a node the caller has not heard
	// from yet (its first beat is on the way): only older calls and
	// participants are judged.
	recent := s.now().Add(-reapGrace)
	orphaned := func(m chat.CallMember) bool { return m.JoinedAt.Before(recent) && !hubAlive(m.Hub) }
	sfuGone := func(c chat.CallRecord) bool { return c.StartedAt.Before(recent) && !sfuAlive(c.SFUNode) }
	s.forLive(ctx, "reap", func(c chat.CallRecord) bool {
		return sfuGone(c) || containsFunc(c.Participants, orphaned)
	}, func(rec *chat.CallRecord) (bool, error) {
		switch {
		case !rec.Live():
			return false, nil
		case sfuGone(*rec):
			s.end(rec, chat.CallEndSFULost)
		case containsFunc(rec.Participants, orphaned):
			s.remove(rec, orphaned, true, chat.CallEndHubLost)
		default:
			return false, nil
		}
		return true, nil
	})
}

// reapGrace is how old a call or participation must be for Reap to judge
// it: longer than any node takes to be heard from after it starts.
const reapGrace = 15 * time.Second

// forLive commits change to each live call match selects.
func (s *Service) forLive(ctx context.Context, op string, match func(chat.CallRecord) bool, change func(*chat.CallRecord) (bool, error)) {
	live, err := s.store.LiveCalls(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "calls: "+op+": list live calls", "err", err)
		return
	}
	for _, c := range live {
		if !match(c) {
			continue
		}
		if _, err := s.commit(ctx, c.ID, change); err != nil {
			s.log.WarnContext(ctx, "calls: "+op, "call", c.ID, "err", err)
		}
	}
}

func containsFunc(ms []chat.CallMember, f func(chat.CallMember) bool) bool {
	for _, m := range ms {
		if f(m) {
			return true
		}
	}
	return false
}

// sweep ends unanswered calls past their ring timeout, then forgets this
// hub's connections that the store says are no longer in a live call
// (ended or replaced by another hub).
func (s *Service) sweep(ctx context.Context) {
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	live, err := s.store.LiveCalls(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "calls: sweep: list live calls", "err", err)
		return
	}
	now := s.now()
	byID := make(map[string]chat.CallRecord, len(live))
	for _, c := range live {
		byID[c.ID] = c
		if !timedOut(c, now) {
			continue
		}
		after, err := s.commit(ctx, c.ID, func(rec *chat.CallRecord) (bool, error) {
			if !timedOut(*rec, now) {
				return false, nil
			}
			s.end(rec, chat.CallEndTimeout)
			return true, nil
		})
		if err != nil {
			s.log.WarnContext(ctx, "calls: ring timeout", "call", c.ID, "err", err)
			continue
		}
		byID[c.ID] = after
	}
	// Only entries added before LiveCalls was read: their store change
	// was committed before that, so the read reflects it.
	var stale []*local
	s.mu.Lock()
	for id, l := range s.conns {
		rec, ok := byID[l.call]
		if l.gen <= gen && (!ok || !rec.Live() || !hasConn(rec, id)) {
			delete(s.conns, id)
			stale = append(stale, l)
		}
	}
	s.mu.Unlock()
	for _, l := range stale {
		s.unsubscribe(l)
	}
}

// timedOut reports whether c has waited past its ring timeout without an
// answer: still ringing, or live with nobody in it.
func timedOut(c chat.CallRecord, now time.Time) bool {
	return c.Live() && !c.RingUntil.IsZero() && !now.Before(c.RingUntil) &&
		(c.State == chat.CallRinging || len(c.Participants) == 0)
}

// LiveCall returns the room's live call for the join reply; nil if none.
func (s *Service) LiveCall(ctx context.Context, roomID string) (*chat.Call, error) {
	rec, err := s.store.LiveCall(ctx, roomID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr("live call", err)
	}
	c := rec.Call()
	return &c, nil
}

// Participants counts the participants of every live call by room, for
// the operators' room list.
func (s *Service) Participants(ctx context.Context) (map[string]int, error) {
	live, err := s.store.LiveCalls(ctx)
	if err != nil {
		return nil, storeErr("live calls", err)
	}
	out := make(map[string]int, len(live))
	for _, c := range live {
		out[c.Room] = len(c.Participants)
	}
	return out, nil
}

// Inspect returns the room's live call as operators see it: its SFU node
// and participants with their tracks; nil if none. An SFU node that does
// not answer leaves the tracks out rather than failing the inspection.
func (s *Service) Inspect(ctx context.Context, roomID string) (*chat.CallInfo, error) {
	rec, err := s.store.LiveCall(ctx, roomID)
	if errors.Is(err, chat.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr("live call", err)
	}
	tracks := map[string][]chat.TrackInfo{}
	if s.insp != nil {
		stats, err := s.insp.Stats(ctx, rec.SFUNode, rec.ID)
		if err != nil {
			s.log.WarnContext(ctx, "calls: inspect: SFU stats", "call", rec.ID, "node", rec.SFUNode, "err", err)
		}
		for _, p := range stats {
			tracks[p.User.ID] = append(tracks[p.User.ID], p.Tracks...)
		}
	}
	info := &chat.CallInfo{ID: rec.ID, SFUNode: rec.SFUNode, Participants: []chat.CallParticipant{}}
	for _, u := range rec.Call().Participants {
		t := tracks[u.ID]
		if t == nil {
			t = []chat.TrackInfo{}
		}
		info.Participants = append(info.Participants, chat.CallParticipant{User: u, Tracks: t})
	}
	return info, nil
}

// peer returns c's participation in callID on this hub; not_found if c
// has not joined that call (there is no way to name another's peer).
func (s *Service) peer(c Conn, callID string) (*local, error) {
	l := s.localOf(c.ID())
	if l == nil || l.call != callID {
		return nil, chat.Errorf(chat.CodeNotFound, "this connection has not joined call %s", callID)
	}
	return l, nil
}

// Answer passes c's SDP answer to its peer on the call's SFU node.
func (s *Service) Answer(ctx context.Context, c Conn, callID, sdp string) error {
	if sdp == "" {
		return chat.Errorf(chat.CodeBadRequest, "sdp is required")
	}
	l, err := s.peer(c, callID)
	if err != nil {
		return err
	}
	if err := s.sfu.Answer(ctx, l.node, callID, c.ID(), sdp); err != nil {
		return sfuErr("answer", err)
	}
	return nil
}

// Candidate passes one of c's ICE candidates (RTCIceCandidateInit JSON) to
// its peer.
func (s *Service) Candidate(ctx context.Context, c Conn, callID string, cand json.RawMessage) error {
	if len(cand) == 0 || string(cand) == "null" {
		return chat.Errorf(chat.CodeBadRequest, "candidate is required")
	}
	l, err := s.peer(c, callID)
	if err != nil {
		return err
	}
	if err := s.sfu.Candidate(ctx, l.node, callID, c.ID(), cand); err != nil {
		return sfuErr("candidate", err)
	}
	return nil
}

// Publish asks the SFU to receive a source from c (camera, microphone,
// screen); it renegotiates with a new rtc_offer when needed.
func (s *Service) Publish(ctx context.Context, c Conn, callID, source string) error {
	if !chat.ValidSource(source) {
		return chat.Errorf(chat.CodeBadRequest, "source must be %q, %q or %q", chat.SourceCamera, chat.SourceMicrophone, chat.SourceScreen)
	}
	l, err := s.peer(c, callID)
	if err != nil {
		return err
	}
	if err := s.sfu.Publish(ctx, l.node, callID, c.ID(), source); err != nil {
		return sfuErr("publish", err)
	}
	return nil
}
