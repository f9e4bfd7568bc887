package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// ErrClosed is returned by Client.Do when the connection ended before the
// reply came.
var ErrClosed = errors.New("clustertest: connection closed")

// Client is a WebSocket connection to one hub for traffic that must ride
// out failures. Unlike servertest's client it never fails the test: Do
// returns an error when the hub dies under it. It keeps every frame it
// received, replies and events, in arrival order, for checks afterwards.
type Client struct {
	ws *websocket.Conn

	mu      sync.Mutex // guards nextID, waiting, frames and err
	nextID  int64
	waiting map[int64]chan servertest.Frame
	frames  []servertest.Frame
	err     error         // why the connection ended; set before done is closed
	done    chan struct{} // closed when the reader goroutine returns
}

// Dial opens an authenticated WebSocket (a bearer token on the handshake)
// to the hub at hubURL (http://host:port).
func Dial(ctx context.Context, hubURL, token string) (*Client, error) {
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hubURL, "http")+"/ws", &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		return nil, fmt.Errorf("clustertest: dial %s: %w", hubURL, err)
	}
	ws.SetReadLimit(16 << 20)
	c := &Client{ws: ws, waiting: map[int64]chan servertest.Frame{}, done: make(chan struct{})}
	go c.read()
	return c, nil
}

// read files every frame until the connection ends; it owns the reading
// side of ws.
func (c *Client) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			c.err = err
			c.mu.Unlock()
			return
		}
		var f servertest.Frame
		if jerr := json.Unmarshal(data, &f); jerr != nil {
			f = servertest.Frame{Type: "undecodable"}
		}
		f.Raw = data
		c.frames = append(c.frames, f)
		if f.Type == chat.EventReply {
			if ch, ok := c.waiting[f.ID]; ok {
				delete(c.waiting, f.ID)
				ch <- f // buffered: never blocks
			}
		}
		c.mu.Unlock()
	}
}

// Do sends the command typ with fields and waits for its reply. It returns
// an error wrapping ErrClosed when the connection ended first, and ctx's
// error when ctx ended first (the command may still be carried out).
func (c *Client) Do(ctx context.Context, typ string, fields map[string]any) (servertest.Frame, error) {
	ch := make(chan servertest.Frame, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.waiting[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, id)
		c.mu.Unlock()
	}()
	m := map[string]any{"id": id, "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return servertest.Frame{}, fmt.Errorf("clustertest: encode %s: %w", typ, err)
	}
	// The write gets a context of its own: coder/websocket closes the
	// connection when a write's context ends mid-write, and ctx is only
	// meant to bound the wait for the reply.
	wctx, cancel := context.WithTimeout(context.Background(), servertest.Wait)
	err = c.ws.Write(wctx, websocket.MessageText, b)
	cancel()
	if err != nil {
		return servertest.Frame{}, fmt.Errorf("clustertest: write %s: %w: %w", typ, ErrClosed, err)
	}
	select {
	case f := <-ch:
		return f, nil
	case <-c.done:
		select {
		case f := <-ch: // it came just before the end
			return f, nil
		default:
		}
		return servertest.Frame{}, fmt.Errorf("clustertest: %s: %w: %w", typ, ErrClosed, c.Err())
	case <-ctx.Done():
		return servertest.Frame{}, fmt.Errorf("clustertest: %s: %w", typ, ctx.Err())
	}
}

// Frames returns a copy of every frame received so far, in order.
func (c *Client) Frames() []servertest.Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]servertest.Frame(nil), c.frames...)
}

// Done is closed once the connection has ended and every frame it carried
// is in Frames.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection normally and waits for the reader.
func (c *Client) Close() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}
