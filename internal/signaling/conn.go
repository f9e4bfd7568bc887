package signaling

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/pawfect/hub/internal/chat"
)

// conn is one client WebSocket connection.
type conn struct {
	g  *Gateway
	ws *websocket.Conn
	id string

	user   atomic.Pointer[chat.User] // nil until authenticated
	since  time.Time
	notify chan struct{} // capacity 1: the queue has frames
	done   chan struct{} // closed when the connection starts closing

	mu        sync.Mutex // guards queue, closed, closeCode, closeMsg, flushThen, joined
	queue     [][]byte
	closed    bool
	flushThen *closeReq // close once the queue is written
	joined    map[string]struct{}

	pinging atomic.Bool
	wg      sync.WaitGroup // writer, pings and the close handshake
}

type closeReq struct {
	code   websocket.StatusCode
	reason string
}

func newConn(g *Gateway, ws *websocket.Conn) *conn {
	return &conn{
		g: g, ws: ws, id: chat.NewID("c_"), since: time.Now().UTC(),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
		joined: make(map[string]struct{}),
	}
}

// ID implements rooms.Conn.
func (c *conn) ID() string { return c.id }

// User implements rooms.Conn.
func (c *conn) User() chat.User {
	if u := c.user.Load(); u != nil {
		return *u
	}
	return chat.User{}
}

// Deliver implements rooms.Conn: it enqueues frame without blocking, and
// closes the connection as a slow consumer when the queue is full.
func (c *conn) Deliver(frame []byte) {
	c.mu.Lock()
	if c.closed || c.flushThen != nil {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.g.cfg.QueueSize {
		c.mu.Unlock()
		c.g.metrics.SlowConsumer()
		c.close(websocket.StatusCode(chat.CloseSlowConsumer), "slow consumer: events not read fast enough")
		return
	}
	c.queue = append(c.queue, frame)
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// Removed implements rooms.Conn.
func (c *conn) Removed(roomID string) {
	c.mu.Lock()
	_, ok := c.joined[roomID]
	delete(c.joined, roomID)
	c.mu.Unlock()
	if ok {
		c.g.metrics.JoinedRooms(-1)
	}
}

// Overflowed implements rooms.Conn.
func (c *conn) Overflowed() {
	c.g.metrics.SlowConsumer()
	c.close(websocket.StatusCode(chat.CloseSlowConsumer), "slow consumer: fell behind while joining")
}

// closeAfterFlush closes the connection once every queued frame (such as
// the error reply explaining the close) was written.
func (c *conn) closeAfterFlush(code int, reason string) {
	c.mu.Lock()
	if c.closed || c.flushThen != nil {
		c.mu.Unlock()
		return
	}
	c.flushThen = &closeReq{code: websocket.StatusCode(code), reason: reason}
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// close starts the close handshake on the connection's own goroutine; it
// never blocks the caller.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue = nil
	c.mu.Unlock()
	close(c.done)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = c.ws.Close(code, reason)
	}()
}

// writeLoop writes queued frames in order, each under the write deadline,
// and pings the peer every PingInterval.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	ping := time.NewTicker(c.g.cfg.PingInterval)
	defer ping.Stop()
	var batch [][]byte
	for {
		select {
		case <-c.done:
			return
		case <-ping.C:
			c.startPing()
			continue
		case <-c.notify:
		}
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		final := c.flushThen
		c.mu.Unlock()
		for i, frame := range batch {
			if !c.write(frame) {
				return
			}
			batch[i] = nil
		}
		if final != nil {
			c.mu.Lock()
			more := len(c.queue) > 0
			c.mu.Unlock()
			if !more {
				c.close(final.code, final.reason)
				return
			}
		}
	}
}

func (c *conn) write(frame []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, frame); err != nil {
		c.g.log.Debug("signaling: write failed", "conn", c.id, "err", err)
		c.close(websocket.StatusCode(chat.CloseSlowConsumer), "write timed out")
		return false
	}
	c.g.metrics.EventWritten()
	return true
}

// startPing sends one ping unless the previous one is still waiting; a
// peer that does not answer within PongTimeout is closed.
func (c *conn) startPing() {
	if !c.pinging.CompareAndSwap(false, true) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.pinging.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.PongTimeout)
		defer cancel()
		if err := c.ws.Ping(ctx); err != nil {
			select {
			case <-c.done:
			default:
				c.g.log.Debug("signaling: ping failed", "conn", c.id, "err", err)
				c.close(websocket.StatusPolicyViolation, "ping timeout")
			}
		}
	}()
}

// join records a joined room, refusing past the per-connection limit.
func (c *conn) join(roomID string) (added bool, err *chat.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.joined[roomID]; ok {
		return false, nil
	}
	if len(c.joined) >= c.g.cfg.MaxJoinedRooms {
		return false, chat.Errorf(chat.CodeConflict, "at most %d joined rooms per connection; leave one first", c.g.cfg.MaxJoinedRooms)
	}
	c.joined[roomID] = struct{}{}
	return true, nil
}

func (c *conn) unjoin(roomID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.joined[roomID]
	delete(c.joined, roomID)
	return ok
}

func (c *conn) joinedRooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.joined))
	for id := range c.joined {
		out = append(out, id)
	}
	clear(c.joined)
	return out
}
