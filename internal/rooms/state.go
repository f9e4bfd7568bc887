package rooms

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// maxJoinBuffer bounds the events held for a connection while its join
// reply is being prepared; one that falls further behind is dropped.
const maxJoinBuffer = 1024

// backfillPage is how many messages one gap-repair query reads.
const backfillPage = 200

type pendingEvent struct {
	seq   int64 // 0: not a seq'd event
	frame []byte
}

// member is one local connection in a room.
type member struct {
	conn     Conn
	joining  bool           // the join reply has not been enqueued yet
	floor    int64          // seq'd events at or below this were in the join reply
	buf      []pendingEvent // events that arrived while joining
	overflow bool           // buf hit maxJoinBuffer
	since    time.Time      // when it joined the room (a rejoin keeps it)
}

// roomState is this hub's view of a room it has local connections in.
type roomState struct {
	s  *Service
	id string

	ready   chan struct{} // closed once the subscriptions are set up (or failed)
	initErr error         // written before ready is closed

	// deliverMu serializes the delivery of seq'd events and guards lastSeq
	// and subs.
	deliverMu sync.Mutex
	lastSeq   int64 // highest seq fanned out (or known to need no fan-out)
	subs      []Subscription

	mu      sync.Mutex // guards members and closed
	members map[string]*member
	closed  bool
}

func newRoomState(s *Service, id string) *roomState {
	return &roomState{s: s, id: id, ready: make(chan struct{}), members: make(map[string]*member)}
}

// init subscribes to the room's subjects and then reads the stored
// last_seq: every message stored after that read reaches the subscription
// (or the repair pass), and every one before it is in the store for joins.
func (rs *roomState) init(ctx context.Context) error {
	rs.deliverMu.Lock()
	defer rs.deliverMu.Unlock()
	b := rs.s.bus
	for _, sub := range []struct {
		subject string
		fn      func([]byte)
	}{
		{b.RoomMsg(rs.id), rs.onMsg},
		{b.RoomEph(rs.id), rs.onEph},
		{b.RoomCtl(rs.id), rs.onCtl},
	} {
		sn, err := b.Subscribe(sub.subject, sub.fn)
		if err != nil {
			rs.unsubscribeLocked()
			return fmt.Errorf("rooms: subscribe %s: %w", sub.subject, err)
		}
		rs.subs = append(rs.subs, sn)
	}
	if err := b.Flush(ctx); err != nil {
		rs.unsubscribeLocked()
		return fmt.Errorf("rooms: flush subscriptions: %w", err)
	}
	seqs, err := rs.s.store.LastSeqs(ctx, []string{rs.id})
	if err != nil {
		rs.unsubscribeLocked()
		return fmt.Errorf("rooms: read last seq: %w", err)
	}
	rs.lastSeq = seqs[rs.id]
	return nil
}

func (rs *roomState) unsubscribe() {
	rs.deliverMu.Lock()
	defer rs.deliverMu.Unlock()
	rs.unsubscribeLocked()
}

func (rs *roomState) unsubscribeLocked() {
	for _, sub := range rs.subs {
		if err := sub.Unsubscribe(); err != nil {
			rs.s.log.Debug("rooms: unsubscribe", "room", rs.id, "err", err)
		}
	}
	rs.subs = nil
}

func (rs *roomState) isClosed() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.closed
}

// msgHeader is the part of a message-subject event the hub routes by.
type msgHeader struct {
	Type    string `json:"type"`
	Message struct {
		Seq int64 `json:"seq"`
	} `json:"message"`
}

// onMsg handles one event from the room's message subject. The bus calls
// it serially, in publish order.
func (rs *roomState) onMsg(data []byte) {
	var h msgHeader
	if err := json.Unmarshal(data, &h); err != nil {
		rs.s.log.Warn("rooms: undecodable bus event", "room", rs.id, "err", err)
		return
	}
	rs.deliverMu.Lock()
	defer rs.deliverMu.Unlock()
	if rs.isClosed() {
		return
	}
	switch h.Type {
	case chat.EventMessage:
		seq := h.Message.Seq
		if seq <= rs.lastSeq {
			return // already delivered, by backfill or an earlier copy
		}
		if seq > rs.lastSeq+1 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			rs.backfillLocked(ctx, seq-1)
			cancel()
		}
		if seq != rs.lastSeq+1 {
			// The gap could not be filled now; delivering seq would break
			// order, so leave it (and the gap) to the repair pass.
			rs.s.RepairAll()
			return
		}
		rs.fanout(seq, data)
		rs.lastSeq = seq
	case chat.EventMessageEdited, chat.EventMessageDeleted:
		rs.fanout(0, data)
	default:
		rs.s.log.Warn("rooms: unknown bus event type", "room", rs.id, "type", h.Type)
	}
}

// catchUp delivers whatever the store holds beyond lastSeq, up to stored.
func (rs *roomState) catchUp(ctx context.Context, stored int64) {
	rs.deliverMu.Lock()
	defer rs.deliverMu.Unlock()
	if stored > rs.lastSeq && !rs.isClosed() {
		rs.backfillLocked(ctx, stored)
	}
}

// backfillLocked reads messages lastSeq+1..upTo from the store and fans
// them out in order. deliverMu must be held.
func (rs *roomState) backfillLocked(ctx context.Context, upTo int64) {
	repaired := 0
	defer func() {
		if repaired > 0 {
			rs.s.metrics.GapRepaired(repaired)
		}
	}()
	for rs.lastSeq < upTo {
		msgs, _, err := rs.s.store.Messages(ctx, rs.id, chat.HistoryQuery{
			AfterSeq: rs.lastSeq, After: true, BeforeSeq: upTo + 1, Limit: backfillPage,
		})
		if err != nil {
			rs.s.log.WarnContext(ctx, "rooms: backfill", "room", rs.id, "after", rs.lastSeq, "err", err)
			return
		}
		if len(msgs) == 0 {
			return
		}
		for _, m := range msgs {
			if m.Seq != rs.lastSeq+1 {
				rs.s.log.ErrorContext(ctx, "rooms: store returned a seq gap", "room", rs.id, "want", rs.lastSeq+1, "got", m.Seq)
				return
			}
			rs.fanout(m.Seq, encode(chat.MessageEvent{Type: chat.EventMessage, Room: rs.id, Message: m}))
			rs.lastSeq = m.Seq
			repaired++
		}
	}
}

// fanout hands frame to every local connection in the room. seq > 0 marks
// a seq'd message event, which skips connections whose join reply held it.
func (rs *roomState) fanout(seq int64, frame []byte) {
	rs.fanoutFiltered(seq, frame, "")
}

// fanoutFiltered is fanout that also skips connections of user skipUser.
func (rs *roomState) fanoutFiltered(seq int64, frame []byte, skipUser string) {
	n := 0
	rs.mu.Lock()
	for _, m := range rs.members {
		if skipUser != "" && m.conn.User().ID == skipUser {
			continue
		}
		if m.joining {
			if seq == 0 && skipUser != "" {
				continue // ephemeral: not worth holding for a joiner
			}
			if len(m.buf) >= maxJoinBuffer {
				m.overflow = true
				continue
			}
			m.buf = append(m.buf, pendingEvent{seq: seq, frame: frame})
			continue
		}
		if seq > 0 && seq <= m.floor {
			continue
		}
		m.conn.Deliver(frame)
		n++
	}
	rs.mu.Unlock()
	rs.s.metrics.EventsDelivered(n)
}

// ephEnvelope carries a typing or presence event between hubs; From names
// the user whose own connections do not get it (typing), or is empty.
type ephEnvelope struct {
	From  string          `json:"from,omitempty"`
	Event json.RawMessage `json:"event"`
	// Keep holds the event for connections still joining (Broadcast),
	// where typing and presence are dropped for them.
	Keep bool `json:"keep,omitempty"`
}

func (rs *roomState) onEph(data []byte) {
	var env ephEnvelope
	if err := json.Unmarshal(data, &env); err != nil || len(env.Event) == 0 {
		rs.s.log.Warn("rooms: undecodable ephemeral event", "room", rs.id, "err", err)
		return
	}
	n := 0
	rs.mu.Lock()
	for _, m := range rs.members {
		if env.From != "" && m.conn.User().ID == env.From {
			continue
		}
		if m.joining {
			if env.Keep && len(m.buf) < maxJoinBuffer {
				m.buf = append(m.buf, pendingEvent{frame: env.Event})
			} else if env.Keep {
				m.overflow = true
			}
			continue
		}
		m.conn.Deliver(env.Event)
		n++
	}
	rs.mu.Unlock()
	rs.s.metrics.EventsDelivered(n)
}

// ctlEvent is a control message between hubs about a room.
type ctlEvent struct {
	Type string `json:"type"`
	User string `json:"user"`
}

const ctlMemberRemoved = "member_removed"

func (rs *roomState) onCtl(data []byte) {
	var ev ctlEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		rs.s.log.Warn("rooms: undecodable control event", "room", rs.id, "err", err)
		return
	}
	if ev.Type != ctlMemberRemoved {
		return
	}
	var victims []Conn
	rs.mu.Lock()
	for _, m := range rs.members {
		if m.conn.User().ID == ev.User {
			victims = append(victims, m.conn)
		}
	}
	rs.mu.Unlock()
	if len(victims) == 0 {
		return
	}
	left := encode(chat.LeftEvent{Type: chat.EventLeft, Room: rs.id, Reason: chat.LeftRemoved})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range victims {
		if rs.s.leave(ctx, c, rs.id) {
			c.Deliver(left)
			c.Removed(rs.id)
		}
	}
}

// activate enqueues the join reply and then the events that arrived while
// it was prepared, in order, skipping those the reply already holds. It
// reports false if the connection left the room in the meantime.
func (rs *roomState) activate(c Conn, floor int64, reply func()) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	m := rs.members[c.ID()]
	if m == nil || m.conn != c || rs.closed {
		return false
	}
	reply()
	if m.overflow {
		m.buf = nil
		c.Overflowed()
		return true
	}
	m.floor = floor
	m.joining = false
	for _, p := range m.buf {
		if p.seq == 0 || p.seq > floor {
			c.Deliver(p.frame)
		}
	}
	m.buf = nil
	return true
}

// encode marshals an event once for every connection it goes to.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Events are chat types whose only free-form part (Meta) is JSON
		// that was validated before it was stored; report, never crash.
		b, _ = json.Marshal(struct {
			Type  string `json:"type"`
			Error string `json:"error"`
		}{"error", fmt.Sprintf("event %T could not be encoded", v)})
	}
	return b
}
