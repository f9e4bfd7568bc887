package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/rooms"
)

// Config holds the gateway's limits and checks.
type Config struct {
	// OriginAllowed says whether a browser Origin may open a WebSocket. A
	// handshake without Origin is not a browser's and is not checked.
	OriginAllowed func(origin string) bool
	// HostAllowed says whether a browser handshake's Host is one of the
	// hub's own names; checked too, because an Origin that merely equals
	// Host proves nothing against DNS rebinding.
	HostAllowed    func(host string) bool
	MaxFrameBytes  int64
	MaxJoinedRooms int
	QueueSize      int
	PingInterval   time.Duration
	PongTimeout    time.Duration
	WriteTimeout   time.Duration
	AuthTimeout    time.Duration
	// WriteCoalesce is the least time between two writes to one socket;
	// events arriving faster wait and go out together. 0 writes at once.
	WriteCoalesce time.Duration
}

func (c *Config) setDefaults() {
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 64 << 10
	}
	if c.MaxJoinedRooms <= 0 {
		c.MaxJoinedRooms = 50
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 256
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 10 * time.Second
	}
}

// Authenticator turns a bearer token into the current user.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (chat.User, error)
}

// Metrics receives the gateway's counters.
type Metrics interface {
	Connections(delta int)
	JoinedRooms(delta int)
	SlowConsumer()
	EventsWritten(n int)
}

// Deps are what the gateway calls.
type Deps struct {
	Auth    Authenticator
	Rooms   *rooms.Service
	Calls   Calls   // optional: without it, call commands answer unavailable
	Metrics Metrics // optional
	Logger  *slog.Logger
}

// Gateway serves /ws.
type Gateway struct {
	cfg     Config
	auth    Authenticator
	rooms   *rooms.Service
	calls   Calls
	metrics Metrics
	log     *slog.Logger

	conns    sync.Map  // conn ID → *conn
	buffers  sync.Pool // *[]byte frame buffers of running writers
	closing  atomic.Bool
	handlers sync.WaitGroup
}

// New returns a gateway.
func New(cfg Config, d Deps) *Gateway {
	cfg.setDefaults()
	g := &Gateway{cfg: cfg, auth: d.Auth, rooms: d.Rooms, calls: d.Calls, metrics: d.Metrics, log: d.Logger}
	g.buffers.New = func() any { b := make([]byte, 0, 4096); return &b }
	if g.metrics == nil {
		g.metrics = nopMetrics{}
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g
}

// ServeHTTP upgrades a request to a WebSocket and serves it until it closes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.closing.Load() {
		httpError(w, chat.Errorf(chat.CodeUnavailable, "hub is shutting down; connect to another"))
		return
	}
	if err := g.checkOrigin(r); err != nil {
		httpError(w, err)
		return
	}
	var user *chat.User
	if token, ok := auth.BearerToken(r); ok {
		u, err := g.auth.Authenticate(r.Context(), token)
		if err != nil {
			httpError(w, chat.AsError(err))
			return
		}
		user = &u
	}
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
		// The Origin and Host checks above are stricter than the
		// library's, which trusts an Origin equal to Host.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		g.log.Debug("signaling: accept failed", "err", err)
		return
	}
	ws.SetReadLimit(g.cfg.MaxFrameBytes)

	c := newConn(g, ws, hw.raw)
	if user != nil {
		c.user.Store(user)
	}
	g.conns.Store(c.id, c)
	g.metrics.Connections(1)
	if g.closing.Load() {
		// Shutdown began after the check above and may have missed c.
		c.close(websocket.StatusGoingAway, "hub is shutting down")
	}
	// The connection is hijacked, so the HTTP server is done with it. Its
	// read loop runs on a fresh goroutine, whose stack grows only as far
	// as reading frames needs, instead of on this one, whose stack grew
	// through the HTTP handshake: at 10,000 idle connections that
	// difference is most of the gateway's memory.
	g.handlers.Add(1)
	go g.run(c)
}

// run owns a connection from the handshake to the end.
func (g *Gateway) run(c *conn) {
	defer g.handlers.Done()
	g.serve(c)
	c.close(websocket.StatusNormalClosure, "")
	c.wg.Wait()
	g.conns.Delete(c.id)
	g.metrics.Connections(-1)
	g.leaveAll(c)
	g.disconnectCall(c)
}

func (g *Gateway) leaveAll(c *conn) {
	rooms := c.joinedRooms()
	if len(rooms) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range rooms {
		_ = g.rooms.Leave(ctx, c, id)
	}
	g.metrics.JoinedRooms(-len(rooms))
}

// serve is the connection's read loop: one frame, one command, one reply.
func (g *Gateway) serve(c *conn) {
	// Commands are not cancelled when the connection closes: a send in
	// flight during shutdown finishes its commit (bounded by
	// commandTimeout) even if its reply can no longer be written.
	ctx := context.Background()
	var authTimer *time.Timer
	if c.user.Load() == nil {
		authTimer = time.AfterFunc(g.cfg.AuthTimeout, func() {
			if c.user.Load() == nil {
				c.close(websocket.StatusCode(chat.CloseUnauthorized), "no auth within the time limit")
			}
		})
		defer authTimer.Stop()
	}
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			if code := websocket.CloseStatus(err); code == -1 && !errors.Is(err, net.ErrClosed) {
				g.log.Debug("signaling: read failed", "conn", c.id, "err", err)
			}
			return
		}
		if typ != websocket.MessageText {
			c.reply(0, nil, chat.Errorf(chat.CodeBadRequest, "binary frames are not part of the protocol; send JSON text frames"))
			continue
		}
		g.handle(ctx, c, data)
	}
}

// Shutdown closes every connection with 1001 so clients move to another
// hub, then waits until their goroutines are gone or ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.closing.Store(true)
	g.conns.Range(func(_, v any) bool {
		v.(*conn).close(websocket.StatusGoingAway, "hub is shutting down")
		return true
	})
	done := make(chan struct{})
	go func() {
		g.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkOrigin enforces the origin and host allow-lists on browser handshakes.
func (g *Gateway) checkOrigin(r *http.Request) *chat.Error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	if g.cfg.OriginAllowed == nil || !g.cfg.OriginAllowed(origin) {
		return chat.Errorf(chat.CodeForbidden, "origin %q is not allowed", origin)
	}
	if g.cfg.HostAllowed == nil || !g.cfg.HostAllowed(r.Host) {
		return chat.Errorf(chat.CodeForbidden, "host %q is not allowed", r.Host)
	}
	return nil
}

func httpError(w http.ResponseWriter, e *chat.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Code.HTTPStatus())
	_ = json.NewEncoder(w).Encode(struct {
		Error *chat.Error `json:"error"`
	}{e})
}

type nopMetrics struct{}

func (nopMetrics) Connections(int)   {}
func (nopMetrics) JoinedRooms(int)   {}
func (nopMetrics) SlowConsumer()     {}
func (nopMetrics) EventsWritten(int) {}

// DisconnectUser closes every connection of userID on this hub with code,
// e.g. when the account was revoked. It returns how many it closed.
func (g *Gateway) DisconnectUser(userID string, code int, reason string) int {
	n := 0
	g.conns.Range(func(_, v any) bool {
		c := v.(*conn)
		if u := c.user.Load(); u != nil && u.ID == userID {
			c.close(websocket.StatusCode(code), reason)
			n++
		}
		return true
	})
	return n
}

// DeliverUser hands an encoded event (call_ring) to every connection of
// userID on this hub that has signed in; it returns how many got it.
func (g *Gateway) DeliverUser(userID string, frame []byte) int {
	n := 0
	g.conns.Range(func(_, v any) bool {
		c := v.(*conn)
		if u := c.user.Load(); u != nil && u.ID == userID {
			c.Deliver(frame)
			n++
		}
		return true
	})
	return n
}

// DisconnectConn closes one connection of this hub with code; it reports
// whether the connection is here.
func (g *Gateway) DisconnectConn(connID string, code int, reason string) bool {
	v, ok := g.conns.Load(connID)
	if !ok {
		return false
	}
	v.(*conn).close(websocket.StatusCode(code), reason)
	return true
}
