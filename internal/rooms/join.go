package rooms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Join limits from PROTOCOL §3.
const (
	joinLatest   = 50  // messages in a join reply without since
	joinRecovery = 500 // messages in a join reply with since
)

// JoinResult is what a connection learns when it joins a room.
type JoinResult struct {
	Room     chat.Room
	Online   []chat.User
	Messages []chat.Message
	HasMore  bool
	Extra    any // what JoinOptions.Extra returned
}

// JoinOptions shape a join.
type JoinOptions struct {
	// Since, if set, asks for the messages above it instead of the latest.
	Since *int64
	// Extra, if set, reads more state for the reply (the room's call) once
	// the connection is in the room: every Broadcast published after the
	// read reaches the connection after the reply, none is lost.
	Extra func(ctx context.Context) any
}

// Join adds c to a room and calls reply with the join result. Every event
// of the room that is stored after the result was read reaches c after
// reply, exactly once and in seq order; reply runs with the room's
// connection set locked, so it must only encode and enqueue.
//
// With since, the result holds the messages above it (the oldest first,
// up to 500); without, the latest 50.
func (s *Service) Join(ctx context.Context, c Conn, roomID string, o JoinOptions, reply func(JoinResult)) error {
	since := o.Since
	u := c.User()
	if since != nil && *since < 0 {
		return chat.Errorf(chat.CodeBadRequest, "since: must be a non-negative seq")
	}
	room, err := s.visibleRoom(ctx, u, roomID)
	if err != nil {
		return err
	}
	rs, rejoin, err := s.attach(ctx, c, roomID)
	if err != nil {
		return err
	}
	q := chat.HistoryQuery{Limit: joinLatest}
	if since != nil {
		q = chat.HistoryQuery{AfterSeq: *since, After: true, Limit: joinRecovery}
	}
	msgs, hasMore, err := s.store.Messages(ctx, roomID, q)
	if err != nil {
		s.detach(c, roomID)
		return fmt.Errorf("rooms: join: read messages: %w", err)
	}
	first := false
	if !rejoin {
		if first, err = s.presence.Join(ctx, roomID, u, c.ID()); err != nil {
			s.log.WarnContext(ctx, "rooms: presence join", "room", roomID, "err", err)
		}
	}
	online, err := s.presence.Online(ctx, roomID)
	if err != nil {
		s.log.WarnContext(ctx, "rooms: presence online", "room", roomID, "err", err)
		online = []chat.User{u}
	}
	floor, err := s.joinFloor(ctx, roomID, since, msgs)
	if err != nil {
		s.detach(c, roomID)
		return err
	}
	room.LastSeq = max(room.LastSeq, floor)
	if msgs == nil {
		msgs = []chat.Message{}
	}
	res := JoinResult{Room: room, Online: online, Messages: msgs, HasMore: hasMore}
	if o.Extra != nil {
		res.Extra = o.Extra(ctx)
	}
	if !rs.activate(c, floor, func() { reply(res) }) {
		return chat.Errorf(chat.CodeConflict, "left the room while joining")
	}
	if first {
		s.publishPresence(ctx, roomID, u, chat.StateOnline)
	}
	return nil
}

// joinFloor is the seq up to which the join reply covers the room: events
// at or below it are not delivered again. A since beyond the room's stored
// last_seq (a client's stale or foreign number) must not hide the messages
// that come next, so it is capped at what the store holds.
func (s *Service) joinFloor(ctx context.Context, roomID string, since *int64, msgs []chat.Message) (int64, error) {
	if n := len(msgs); n > 0 {
		return msgs[n-1].Seq, nil
	}
	if since == nil || *since == 0 {
		return 0, nil
	}
	seqs, err := s.store.LastSeqs(ctx, []string{roomID})
	if err != nil {
		return 0, fmt.Errorf("rooms: join: read last seq: %w", err)
	}
	return min(*since, seqs[roomID]), nil
}

// Leave takes c out of a room. Leaving a room c is not in is not an error.
func (s *Service) Leave(ctx context.Context, c Conn, roomID string) error {
	s.leave(ctx, c, roomID)
	return nil
}

// leave detaches c and updates presence; it reports whether c was in the room.
func (s *Service) leave(ctx context.Context, c Conn, roomID string) bool {
	if !s.detach(c, roomID) {
		return false
	}
	u := c.User()
	last, err := s.presence.Leave(ctx, roomID, u.ID, c.ID())
	if err != nil {
		s.log.WarnContext(ctx, "rooms: presence leave", "room", roomID, "err", err)
	}
	if last {
		s.publishPresence(ctx, roomID, u, chat.StateOffline)
	}
	return true
}

// attach registers c as joining in the room's local state, creating the
// state (and its subscriptions) if c is the first local connection.
func (s *Service) attach(ctx context.Context, c Conn, roomID string) (*roomState, bool, error) {
	sh := s.shardFor(roomID)
	sh.mu.Lock()
	rs := sh.rooms[roomID]
	created := rs == nil
	if created {
		rs = newRoomState(s, roomID)
		sh.rooms[roomID] = rs
	}
	rs.mu.Lock()
	old, rejoin := rs.members[c.ID()]
	m := &member{conn: c, joining: true, since: time.Now().UTC()}
	if rejoin && old.conn != c {
		rejoin = false
	}
	if rejoin {
		m.since = old.since
	}
	rs.members[c.ID()] = m
	rs.mu.Unlock()
	sh.mu.Unlock()

	if created {
		s.metrics.RoomsActive(1)
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		rs.initErr = rs.init(ictx)
		cancel()
		close(rs.ready)
		if rs.initErr != nil {
			s.dropState(rs)
		}
	} else {
		select {
		case <-rs.ready:
		case <-ctx.Done():
			s.detach(c, roomID)
			return nil, false, fmt.Errorf("rooms: join: %w", ctx.Err())
		}
	}
	if rs.initErr != nil {
		return nil, false, fmt.Errorf("rooms: join: %w: %w", chat.ErrUnavailable, rs.initErr)
	}
	return rs, rejoin, nil
}

// dropState removes a room state whose set-up failed, so the next join
// tries again.
func (s *Service) dropState(rs *roomState) {
	sh := s.shardFor(rs.id)
	sh.mu.Lock()
	if sh.rooms[rs.id] == rs {
		delete(sh.rooms, rs.id)
	}
	rs.mu.Lock()
	rs.closed = true
	rs.mu.Unlock()
	sh.mu.Unlock()
	s.metrics.RoomsActive(-1)
}

// detach removes c from the room's local state and drops the state (and
// its subscriptions) once no local connection is left. It reports whether
// c was there.
func (s *Service) detach(c Conn, roomID string) bool {
	sh := s.shardFor(roomID)
	sh.mu.Lock()
	rs := sh.rooms[roomID]
	if rs == nil {
		sh.mu.Unlock()
		return false
	}
	rs.mu.Lock()
	m, ok := rs.members[c.ID()]
	if ok && m.conn == c {
		delete(rs.members, c.ID())
	} else {
		ok = false
	}
	empty := len(rs.members) == 0 && !rs.closed
	if empty {
		rs.closed = true
		delete(sh.rooms, roomID)
	}
	rs.mu.Unlock()
	sh.mu.Unlock()
	if empty {
		<-rs.ready
		if rs.initErr == nil {
			rs.unsubscribe()
			s.metrics.RoomsActive(-1)
		}
	}
	return ok
}

// AnnounceOffline tells a room, on every hub, that u went offline there
// without leaving: the hub holding u's last connection was lost and its
// presence entries were reaped.
func (s *Service) AnnounceOffline(ctx context.Context, roomID string, u chat.User) {
	s.publishPresence(ctx, roomID, u, chat.StateOffline)
}

// AnnounceOnline tells a room, on every hub, that u is online there again
// without having joined anew: presence had lost u's connections on this
// hub (other hubs reaped it while it was cut off from them) and has them
// back.
func (s *Service) AnnounceOnline(ctx context.Context, roomID string, u chat.User) {
	s.publishPresence(ctx, roomID, u, chat.StateOnline)
}

// Broadcast hands an encoded event (a call's call_state) to every
// connection that joined the room, on every hub. It is not stored, but
// unlike typing it is not dropped for a connection that is joining: it is
// held and delivered after the join reply (see JoinOptions.Extra).
func (s *Service) Broadcast(ctx context.Context, roomID string, frame []byte) error {
	if err := s.bus.Publish(ctx, s.bus.RoomEph(roomID), encode(ephEnvelope{Event: frame, Keep: true})); err != nil {
		s.metrics.PublishFailed()
		return fmt.Errorf("rooms: broadcast to %s: %w", roomID, err)
	}
	return nil
}

func (s *Service) publishPresence(ctx context.Context, roomID string, u chat.User, state string) {
	ev := encode(chat.PresenceEvent{Type: chat.EventPresence, Room: roomID, User: u, State: state})
	s.publishEph(ctx, roomID, ephEnvelope{Event: ev})
}

func (s *Service) publishEph(ctx context.Context, roomID string, env ephEnvelope) {
	if err := s.bus.Publish(ctx, s.bus.RoomEph(roomID), encode(env)); err != nil {
		s.metrics.PublishFailed()
		s.log.WarnContext(ctx, "rooms: publish ephemeral event", "room", roomID, "err", err)
	}
}

// isNotFound reports whether err is a store's not-found.
func isNotFound(err error) bool { return errors.Is(err, chat.ErrNotFound) }
