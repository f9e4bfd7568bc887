package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pawfect/hub/internal/chat"
)

// Wait is how long helpers wait for a reply or an event before failing.
const Wait = 10 * time.Second

// Do sends one HTTP request with an optional bearer token and JSON body,
// and returns the status and raw body.
func (h *Hub) Do(t testing.TB, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if raw, ok := body.(string); ok {
			rd = strings.NewReader(raw)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatalf("encode body: %v", err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, h.URL+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// JSON is Do that expects status want and decodes the body into out (if
// non-nil).
func (h *Hub) JSON(t testing.TB, method, path, token string, body any, want int, out any) {
	t.Helper()
	status, b := h.Do(t, method, path, token, body)
	if status != want {
		t.Fatalf("%s %s: got status %d, want %d; body %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// ErrorCode decodes an error body's code.
func ErrorCode(t testing.TB, body []byte) chat.Code {
	t.Helper()
	var e struct {
		Error chat.Error `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an error body: %s", body)
	}
	return e.Error.Code
}

// Account is a user signed up on a test hub.
type Account struct {
	User  chat.User
	Token string
}

type authResp struct {
	User  chat.User `json:"user"`
	Token string    `json:"token"`
}

// Register signs up a new user named name (with a random suffix kept
// within the username rules).
func (h *Hub) Register(t testing.TB, name string) Account {
	t.Helper()
	username := name + "_" + strings.ToLower(UniquePrefix()[1:7])
	var r authResp
	h.JSON(t, "POST", "/api/auth/register", "", map[string]string{
		"username": username, "password": "correct horse battery", "display_name": name,
	}, http.StatusCreated, &r)
	return Account{User: r.User, Token: r.Token}
}

// Guest signs in a new guest.
func (h *Hub) Guest(t testing.TB, name string) Account {
	t.Helper()
	var r authResp
	h.JSON(t, "POST", "/api/auth/guest", "", map[string]string{"display_name": name}, http.StatusCreated, &r)
	return Account{User: r.User, Token: r.Token}
}

// CreateRoom creates a room as a and returns it.
func (h *Hub) CreateRoom(t testing.TB, a Account, name string, kind chat.RoomKind, members ...string) chat.Room {
	t.Helper()
	var r struct {
		Room chat.Room `json:"room"`
	}
	body := map[string]any{"name": name, "kind": kind}
	if len(members) > 0 {
		body["members"] = members
	}
	h.JSON(t, "POST", "/api/rooms", a.Token, body, http.StatusCreated, &r)
	return r.Room
}

// Frame is one server frame as received.
type Frame struct {
	Type  string          `json:"type"`
	ID    int64           `json:"id"`
	OK    bool            `json:"ok"`
	Room  string          `json:"room"`
	Data  json.RawMessage `json:"data"`
	Error *chat.Error     `json:"error"`
	Raw   json.RawMessage `json:"-"`
}

// Decode unmarshals the whole frame into v.
func (f Frame) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(f.Raw, v); err != nil {
		t.Fatalf("decode frame %s: %v", f.Raw, err)
	}
}

// DecodeData unmarshals a reply's data into v.
func (f Frame) DecodeData(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(f.Data, v); err != nil {
		t.Fatalf("decode reply data %s: %v", f.Data, err)
	}
}

// Client is a WebSocket client of a test hub. A reader goroutine files
// replies by id and queues every other frame as an event.
type Client struct {
	t  testing.TB
	ws *websocket.Conn

	mu      sync.Mutex // guards nextID, replies, events, routes, closeErr
	nextID  int64
	replies map[int64]Frame
	events  []Frame
	routes  map[string]chan Frame // event type → where Route sends it
	// ownRoutes are Route's channels, closed by the reader when it ends.
	ownRoutes []chan Frame
	closed    error
	notify    chan struct{}
	done      chan struct{}
}

// DialOptions shape a WebSocket handshake.
type DialOptions struct {
	Token  string // sent as Authorization: Bearer on the handshake
	Origin string
	Host   string
}

// Dial opens a WebSocket to the hub, failing the test if the handshake
// fails. With a token, the handshake authenticates the connection.
func (h *Hub) Dial(t testing.TB, o DialOptions) *Client {
	t.Helper()
	c, resp, err := h.TryDial(t, o)
	if err != nil {
		t.Fatalf("dial: %v (status %d)", err, resp)
	}
	return c
}

// TryDial is Dial that returns the handshake error and HTTP status.
func (h *Hub) TryDial(t testing.TB, o DialOptions) (*Client, int, error) {
	t.Helper()
	hdr := http.Header{}
	if o.Token != "" {
		hdr.Set("Authorization", "Bearer "+o.Token)
	}
	if o.Origin != "" {
		hdr.Set("Origin", o.Origin)
	}
	opts := &websocket.DialOptions{HTTPHeader: hdr, Host: o.Host}
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.URL, "http")+"/ws", opts)
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	if err != nil {
		return nil, status, err
	}
	ws.SetReadLimit(16 << 20)
	c := &Client{t: t, ws: ws, replies: map[int64]Frame{}, notify: make(chan struct{}), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { c.Close() })
	return c, status, nil
}

func (c *Client) read() {
	defer close(c.done)
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, ch := range c.ownRoutes {
			close(ch)
		}
		c.ownRoutes, c.routes = nil, nil
	}()
	for {
		_, data, err := c.ws.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			c.closed = err
			c.wake()
			c.mu.Unlock()
			return
		}
		var f Frame
		if jerr := json.Unmarshal(data, &f); jerr != nil {
			f = Frame{Type: "undecodable"}
		}
		f.Raw = append(json.RawMessage(nil), data...)
		if route := c.routes[f.Type]; route != nil {
			c.mu.Unlock()
			select { // in order; a pump that stopped reading loses its events, not the client
			case route <- f:
			case <-time.After(Wait):
			}
			continue
		}
		if f.Type == chat.EventReply {
			c.replies[f.ID] = f
		} else {
			c.events = append(c.events, f)
		}
		c.wake()
		c.mu.Unlock()
	}
}

// Route hands every later event of the given types to the returned
// channel, in arrival order, instead of queueing it for Next: for a pump
// goroutine (WebRTC signaling) that must not call the test's Fatal. The
// channel is closed when the connection ends.
func (c *Client) Route(types ...string) <-chan Frame {
	ch := make(chan Frame, 64)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routes == nil {
		c.routes = map[string]chan Frame{}
	}
	for _, typ := range types {
		c.routes[typ] = ch
	}
	c.ownRoutes = append(c.ownRoutes, ch)
	return ch
}

// TryDo is Do for goroutines other than the test's: it returns an error
// instead of failing the test.
func (c *Client) TryDo(typ string, fields map[string]any) (Frame, error) {
	id, err := c.send(typ, fields)
	if err != nil {
		return Frame{}, err
	}
	var f Frame
	if !c.waitFor(func() bool {
		var found bool
		f, found = c.replies[id]
		return found
	}) {
		return Frame{}, fmt.Errorf("no reply to %s within %v (connection: %v)", typ, Wait, c.closeErr())
	}
	return f, nil
}

// wake tells waiters something arrived; mu must be held.
func (c *Client) wake() {
	close(c.notify)
	c.notify = make(chan struct{})
}

// waitFor polls cond under the lock until it holds, the connection closes
// or Wait passes.
func (c *Client) waitFor(cond func() bool) bool {
	deadline := time.After(Wait)
	for {
		c.mu.Lock()
		if cond() {
			c.mu.Unlock()
			return true
		}
		ch, closed := c.notify, c.closed
		c.mu.Unlock()
		if closed != nil {
			c.mu.Lock()
			ok := cond()
			c.mu.Unlock()
			return ok
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// SendRaw writes one text frame as is.
func (c *Client) SendRaw(frame []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, frame)
}

// Command sends a command of type typ with fields and returns its id.
func (c *Client) Command(typ string, fields map[string]any) int64 {
	c.t.Helper()
	id, err := c.send(typ, fields)
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

// send sends a command with the next id.
func (c *Client) send(typ string, fields map[string]any) (int64, error) {
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.mu.Unlock()
	m := map[string]any{"id": id, "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return id, fmt.Errorf("encode %s: %w", typ, err)
	}
	if err := c.SendRaw(b); err != nil {
		return id, fmt.Errorf("send %s: %w", typ, err)
	}
	return id, nil
}

// Reply waits for the reply to command id.
func (c *Client) Reply(id int64) Frame {
	c.t.Helper()
	var f Frame
	ok := c.waitFor(func() bool {
		var found bool
		f, found = c.replies[id]
		return found
	})
	if !ok {
		c.t.Fatalf("no reply to command %d within %v (connection: %v)", id, Wait, c.closeErr())
	}
	return f
}

// Do sends a command and waits for its reply.
func (c *Client) Do(typ string, fields map[string]any) Frame {
	c.t.Helper()
	return c.Reply(c.Command(typ, fields))
}

// OK sends a command, requires an ok reply and decodes its data into out.
func (c *Client) OK(typ string, fields map[string]any, out any) {
	c.t.Helper()
	f := c.Do(typ, fields)
	if !f.OK {
		c.t.Fatalf("%s: got error %+v, want ok", typ, f.Error)
	}
	if out != nil {
		f.DecodeData(c.t, out)
	}
}

// Fail sends a command and requires an error reply with code.
func (c *Client) Fail(typ string, fields map[string]any, code chat.Code) Frame {
	c.t.Helper()
	f := c.Do(typ, fields)
	if f.OK || f.Error == nil || f.Error.Code != code {
		c.t.Fatalf("%s: got %s, want error %s", typ, f.Raw, code)
	}
	return f
}

// Next waits for and removes the first queued event of type typ (events of
// other types stay queued).
func (c *Client) Next(typ string) Frame {
	c.t.Helper()
	var f Frame
	ok := c.waitFor(func() bool {
		for i, e := range c.events {
			if e.Type == typ {
				f = e
				c.events = append(c.events[:i], c.events[i+1:]...)
				return true
			}
		}
		return false
	})
	if !ok {
		c.t.Fatalf("no %q event within %v (connection: %v)", typ, Wait, c.closeErr())
	}
	return f
}

// Messages waits for n message events and returns their messages in
// arrival order.
func (c *Client) Messages(n int) []chat.Message {
	c.t.Helper()
	out := make([]chat.Message, 0, n)
	for range n {
		var ev chat.MessageEvent
		c.Next(chat.EventMessage).Decode(c.t, &ev)
		out = append(out, ev.Message)
	}
	return out
}

// Events returns the queued events of type typ without removing them.
func (c *Client) Events(typ string) []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Frame
	for _, e := range c.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// Closed waits until the server closes the connection and returns the
// close status (-1 if it ended without a close frame).
func (c *Client) Closed() websocket.StatusCode {
	c.t.Helper()
	if !c.waitFor(func() bool { return c.closed != nil }) {
		c.t.Fatalf("connection still open after %v", Wait)
	}
	return websocket.CloseStatus(c.closeErr())
}

func (c *Client) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Close closes the connection normally and waits for its reader.
func (c *Client) Close() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}

// Auth sends auth with token and requires success.
func (c *Client) Auth(token string) {
	c.t.Helper()
	c.OK("auth", map[string]any{"token": token}, nil)
}

// JoinReply is a decoded join reply.
type JoinReply struct {
	Room     chat.Room       `json:"room"`
	Online   []chat.User     `json:"online"`
	Messages []chat.Message  `json:"messages"`
	HasMore  bool            `json:"has_more"`
	Streams  []any           `json:"streams"`
	Call     json.RawMessage `json:"call"`
}

// Join joins room (with since when >= 0) and returns the reply.
func (c *Client) Join(room string, since int64) JoinReply {
	c.t.Helper()
	f := map[string]any{"room": room}
	if since >= 0 {
		f["since"] = since
	}
	var r JoinReply
	c.OK("join", f, &r)
	return r
}

// Send sends text to room and returns the stored message.
func (c *Client) Send(room, text string) chat.Message {
	c.t.Helper()
	var r struct {
		Message chat.Message `json:"message"`
	}
	c.OK("send", map[string]any{"room": room, "text": text}, &r)
	return r.Message
}

// Eventually polls cond every 20ms until it holds or Wait passes.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v", what, Wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// String is for failure messages.
func (a Account) String() string { return fmt.Sprintf("%s(%s)", a.User.Username, a.User.ID) }

// DropReply forgets the reply to id, so a later reply with the same id (such
// as the id-0 reply to an undecodable frame) can be awaited.
func (c *Client) DropReply(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.replies, id)
}
