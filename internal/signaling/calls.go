package signaling

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/pawfect/hub/internal/calls"
	"github.com/pawfect/hub/internal/chat"
)

// Calls is the call service behind the call commands (PROTOCOL §5). The
// connection itself is the participant: its ID names its peer connection
// on the SFU, and the SFU's offers and candidates reach it through Deliver.
type Calls interface {
	Start(ctx context.Context, c calls.Conn, roomID string, kind chat.CallKind) (chat.Call, error)
	Join(ctx context.Context, c calls.Conn, roomID, callID string) (chat.Call, []chat.ICEServer, error)
	Answer(ctx context.Context, c calls.Conn, callID, sdp string) error
	Candidate(ctx context.Context, c calls.Conn, callID string, candidate json.RawMessage) error
	Publish(ctx context.Context, c calls.Conn, callID, source string) error
	Decline(ctx context.Context, c calls.Conn, roomID, callID string) error
	Leave(ctx context.Context, c calls.Conn, roomID, callID string) error
	// Disconnected takes a closed connection out of its call, if any.
	Disconnected(ctx context.Context, connID string)
	// LiveCall is the room's call that has not ended, or nil.
	LiveCall(ctx context.Context, roomID string) (*chat.Call, error)
}

type callData struct {
	Call chat.Call `json:"call"`
}

type callJoinData struct {
	Call       chat.Call        `json:"call"`
	ICEServers []chat.ICEServer `json:"ice_servers"`
}

// handleCall runs one call command; it reports whether cmd was one.
func (g *Gateway) handleCall(ctx context.Context, c *conn, cmd command) bool {
	if g.calls == nil {
		switch cmd.Type {
		case cmdCallStart, cmdCallJoin, cmdRTCAnswer, cmdRTCCandidate, cmdCallPublish, cmdCallDecline, cmdCallLeave:
			c.reply(cmd.ID, nil, chat.Errorf(chat.CodeUnavailable, "calls are not enabled on this hub"))
			return true
		}
		return false
	}
	switch cmd.Type {
	case cmdCallStart:
		call, err := g.calls.Start(ctx, c, cmd.Room, chat.CallKind(cmd.Kind))
		if err != nil {
			c.reply(cmd.ID, nil, err)
			return true
		}
		c.reply(cmd.ID, callData{Call: call}, nil)
	case cmdCallJoin:
		// The reply, which carries the ICE servers, must reach the client
		// before the SFU's first offer, which may come while Join still
		// runs: frames for the call wait in hc until the reply is queued.
		hc := &heldConn{conn: c}
		c.inCall.Store(true)
		call, servers, err := g.calls.Join(ctx, hc, cmd.Room, cmd.CallID)
		if err != nil {
			// An SFU that joined after the hub gave up (a timeout) may
			// still offer: the client was told it is not in the call.
			hc.discard()
			c.reply(cmd.ID, nil, err)
			return true
		}
		if servers == nil {
			servers = []chat.ICEServer{}
		}
		c.reply(cmd.ID, callJoinData{Call: call, ICEServers: servers}, nil)
		hc.release()
	case cmdRTCAnswer:
		c.reply(cmd.ID, nil, g.calls.Answer(ctx, c, cmd.CallID, cmd.SDP))
	case cmdRTCCandidate:
		c.reply(cmd.ID, nil, g.calls.Candidate(ctx, c, cmd.CallID, cmd.Candidate))
	case cmdCallPublish:
		c.reply(cmd.ID, nil, g.calls.Publish(ctx, c, cmd.CallID, cmd.Source))
	case cmdCallDecline:
		c.reply(cmd.ID, nil, g.calls.Decline(ctx, c, cmd.Room, cmd.CallID))
	case cmdCallLeave:
		c.reply(cmd.ID, nil, g.calls.Leave(ctx, c, cmd.Room, cmd.CallID))
	default:
		return false
	}
	return true
}

// heldConn is a connection as a call sees it: frames delivered before
// release wait, in order, and go out at release; after discard, none go
// out.
type heldConn struct {
	*conn
	mu        sync.Mutex // guards held, released and discarded
	held      [][]byte
	released  bool
	discarded bool
}

// maxHeld bounds the frames held for one join: an offer and its
// candidates are a handful.
const maxHeld = 64

func (h *heldConn) Deliver(frame []byte) {
	h.mu.Lock()
	switch {
	case h.discarded:
		h.mu.Unlock()
		return
	case !h.released:
		if len(h.held) < maxHeld {
			h.held = append(h.held, frame)
		}
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	h.conn.Deliver(frame)
}

func (h *heldConn) discard() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held, h.discarded = nil, true
}

func (h *heldConn) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.held {
		h.conn.Deliver(f)
	}
	h.held, h.released = nil, true
}

// liveCall is the room's call for a join reply, encoded; null when there
// is none or it could not be read (the join itself still succeeds: a
// call_state event or a rejoin brings the call).
func (g *Gateway) liveCall(ctx context.Context, roomID string) json.RawMessage {
	if g.calls == nil {
		return json.RawMessage("null")
	}
	call, err := g.calls.LiveCall(ctx, roomID)
	if err != nil {
		g.log.WarnContext(ctx, "signaling: read the room's call for a join", "room", roomID, "err", err)
		return json.RawMessage("null")
	}
	if call == nil {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(call)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// disconnectCall takes a closed connection out of its call.
func (g *Gateway) disconnectCall(c *conn) {
	if g.calls == nil || !c.inCall.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.calls.Disconnected(ctx, c.id)
}
