package signaling

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/pawfect/hub/internal/chat"
)

// conn is one client WebSocket connection.
type conn struct {
	g   *Gateway
	ws  *websocket.Conn
	raw net.Conn // the socket under ws, for event frames
	id  string

	user  atomic.Pointer[chat.User] // nil until authenticated
	since time.Time
	done  chan struct{} // closed when the connection starts closing
	wake  chan struct{} // capacity 1: ends the writer's coalescing wait

	mu        sync.Mutex // guards queue, writing, closed, flushThen, pingTimer, joined
	queue     [][]byte
	spare     [][]byte  // the writer's previous batch, reused as the next queue
	writing   bool      // a writer goroutine is draining the queue
	closed    bool      //
	flushThen *closeReq // close once the queue is written
	pingTimer *time.Timer
	joined    map[string]struct{}

	pinging   atomic.Bool
	inCall    atomic.Bool    // it joined a call once: its close must leave it
	lastWrite int64          // unix nanos of the last batch; owned by the running writer
	wg        sync.WaitGroup // writers, pings and the close handshake
}

type closeReq struct {
	code   websocket.StatusCode
	reason string
}

func newConn(g *Gateway, ws *websocket.Conn, raw net.Conn) *conn {
	c := &conn{
		g: g, ws: ws, raw: raw, id: chat.NewID("c_"), since: time.Now().UTC(),
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
		joined: make(map[string]struct{}),
	}
	c.pingTimer = time.AfterFunc(g.cfg.PingInterval, c.startPing)
	return c
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
//
// There is no writer goroutine while the queue is empty: the first frame
// starts one, and it exits once it has drained the queue, so an idle
// connection costs one goroutine (its reader), not two.
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
	c.startWriterLocked()
	full := len(c.queue) >= c.g.cfg.QueueSize/2
	c.mu.Unlock()
	if full {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// startWriterLocked starts the writer unless one runs; mu must be held.
func (c *conn) startWriterLocked() {
	if c.writing || c.closed {
		return
	}
	c.writing = true
	c.wg.Add(1)
	go c.writeLoop()
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
	defer c.mu.Unlock()
	if c.closed || c.flushThen != nil {
		return
	}
	c.flushThen = &closeReq{code: websocket.StatusCode(code), reason: reason}
	c.startWriterLocked()
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
	c.pingTimer.Stop()
	c.mu.Unlock()
	close(c.done)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = c.ws.Close(code, reason)
	}()
}

// writeLoop writes queued frames in order, each under the write deadline,
// until the queue is empty.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	// The frame buffer is borrowed only while the writer runs, so an idle
	// connection holds none.
	bp := c.g.buffers.Get().(*[]byte)
	defer c.g.buffers.Put(bp)
	for {
		c.coalesce()
		c.mu.Lock()
		if c.closed {
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue, c.spare = c.spare[:0], nil
		if len(batch) == 0 {
			final := c.flushThen
			c.writing = false
			c.mu.Unlock()
			if final != nil {
				c.close(final.code, final.reason)
			}
			return
		}
		c.mu.Unlock()
		if !c.writeBatch(batch, bp) {
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			return
		}
		clear(batch)
		c.mu.Lock()
		if cap(batch) <= c.g.cfg.QueueSize {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
	}
}

// coalesce waits until WriteCoalesce has passed since the last write, so
// that a connection receiving many events gets them in fewer, larger
// writes: the system call per write is what fan-out costs most. A
// connection receiving fewer events than one per WriteCoalesce never waits.
//
// The wait ends early once half the queue is used, so coalescing never
// turns a connection that keeps up into a slow consumer.
func (c *conn) coalesce() {
	if c.g.cfg.WriteCoalesce <= 0 || c.lastWrite == 0 {
		return
	}
	d := c.g.cfg.WriteCoalesce - time.Since(time.Unix(0, c.lastWrite))
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.wake:
	case <-c.done:
	}
}

// writeBatch writes frames in order, framed by the hub itself, with one
// system call per maxBatchBytes, each under WriteTimeout.
func (c *conn) writeBatch(frames [][]byte, bp *[]byte) bool {
	buf := (*bp)[:0]
	for i, frame := range frames {
		buf = appendTextFrame(buf, frame)
		if len(buf) >= maxBatchBytes || i == len(frames)-1 {
			if err := c.writeRaw(buf); err != nil {
				c.writeFailed(err)
				return false
			}
			buf = buf[:0]
		}
	}
	if cap(buf) <= maxBatchBytes*2 {
		*bp = buf // kept for the next batch while it stays small
	}
	c.lastWrite = time.Now().UnixNano()
	c.g.metrics.EventsWritten(len(frames))
	return true
}

func (c *conn) writeRaw(buf []byte) error {
	if err := c.raw.SetWriteDeadline(time.Now().Add(c.g.cfg.WriteTimeout)); err != nil {
		return err
	}
	_, err := c.raw.Write(buf)
	// The library's own writes (pongs, the close frame) follow on the same
	// socket and bring their own timeouts.
	if derr := c.raw.SetWriteDeadline(time.Time{}); err == nil {
		err = derr
	}
	return err
}

func (c *conn) writeFailed(err error) {
	c.g.log.Debug("signaling: write failed", "conn", c.id, "err", err)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.g.metrics.SlowConsumer() // it stopped reading; a gone peer is not counted
	}
	c.close(websocket.StatusCode(chat.CloseSlowConsumer), "write timed out")
	_ = c.ws.CloseNow()
}

// startPing runs on the ping timer's goroutine: it sends one ping and
// closes a peer that does not answer within PongTimeout, then schedules
// the next.
func (c *conn) startPing() {
	if !c.pinging.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
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
		return
	}
	c.mu.Lock()
	if !c.closed {
		c.pingTimer.Reset(c.g.cfg.PingInterval)
	}
	c.mu.Unlock()
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
