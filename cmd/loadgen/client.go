package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Timeouts of single WebSocket operations.
const (
	dialTimeout  = 15 * time.Second
	writeTimeout = 10 * time.Second
	callTimeout  = 15 * time.Second
	readLimit    = 1 << 20 // a join reply carries up to 50 messages of 4000 chars
)

// wireError is the error object of a failed reply.
type wireError struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
}

func (e *wireError) Error() string { return e.Code + ": " + e.Message }

// reply is a command's answer.
type reply struct {
	OK    bool
	Error *wireError
	Data  json.RawMessage
}

// frame is the part of any server frame loadgen looks at.
type frame struct {
	Type    string          `json:"type"`
	ID      int64           `json:"id"`
	OK      bool            `json:"ok"`
	Error   *wireError      `json:"error"`
	Data    json.RawMessage `json:"data"`
	Room    string          `json:"room"`
	Message *frameMessage   `json:"message"`
}

// frameMessage is the part of a Message loadgen looks at.
type frameMessage struct {
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
	Text string `json:"text"`
}

// Local failure codes, next to the hub's own error codes.
const (
	codeNoReply    = "no_reply"    // connection closed (by loadgen at the end, or by the hub) before the reply
	codeWriteError = "write_error" // the command could not be written
)

// clientError carries a local failure code.
type clientError struct {
	code string
	err  error
}

func (e *clientError) Error() string { return e.code + ": " + e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// failureCode is the code a failed command is counted under.
func failureCode(r reply, err error) string {
	var ce *clientError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case err != nil:
		return "error"
	case r.Error != nil && r.Error.Code != "":
		return r.Error.Code
	default:
		return "error_without_code"
	}
}

// client is one WebSocket connection to a hub.
type client struct {
	idx  int
	hub  string
	conn *websocket.Conn
	rcv  *receiver // nil if this connection measures nothing; owned by the read goroutine

	nextID atomic.Int64
	mu     sync.Mutex                   // guards pend and ended
	pend   map[int64]func(reply, error) // commands awaiting their reply
	ended  bool                         // read loop has exited; no new commands
	done   chan struct{}                // closed when the read loop exits
	closed atomic.Bool                  // loadgen closed it on purpose
	onDrop func(c *client, err error)   // called once if the hub ends the connection
}

// wsURL turns a hub base URL into its /ws URL.
func wsURL(base string) string {
	switch {
	case strings.HasPrefix(base, "https://"):
		return "wss://" + strings.TrimPrefix(base, "https://") + "/ws"
	default:
		return "ws://" + strings.TrimPrefix(base, "http://") + "/ws"
	}
}

// dial opens a connection authenticated by token on the handshake (no
// Origin header: loadgen is not a browser) and starts its read loop.
func dial(ctx context.Context, hc *http.Client, idx int, hub, token string, rcv *receiver, onDrop func(*client, error)) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	conn, resp, err := websocket.Dial(ctx, wsURL(hub), &websocket.DialOptions{
		HTTPClient:      hc,
		HTTPHeader:      h,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: HTTP %d: %w", wsURL(hub), resp.StatusCode, err)
		}
		return nil, fmt.Errorf("dial %s: %w", wsURL(hub), err)
	}
	conn.SetReadLimit(readLimit)
	c := &client{
		idx: idx, hub: hub, conn: conn, rcv: rcv,
		pend: make(map[int64]func(reply, error)),
		done: make(chan struct{}), onDrop: onDrop,
	}
	go c.readLoop()
	return c, nil
}

// readLoop reads frames until the connection ends: replies go to their
// callbacks, message events to the receiver, everything else is dropped.
func (c *client) readLoop() {
	defer close(c.done)
	var err error
	for {
		var data []byte
		_, data, err = c.conn.Read(context.Background())
		if err != nil {
			break
		}
		at := time.Now()
		if c.rcv != nil {
			if room, seq, text, ok := fastMessage(data); ok {
				c.rcv.onMessage(room, seq, text, at)
				continue
			}
		}
		var f frame
		if decodeFrame(data, &f) != nil {
			continue
		}
		switch f.Type {
		case "reply":
			c.mu.Lock()
			cb := c.pend[f.ID]
			delete(c.pend, f.ID)
			c.mu.Unlock()
			if cb != nil {
				cb(reply{OK: f.OK, Error: f.Error, Data: f.Data}, nil)
			}
		case "message":
			if c.rcv != nil && f.Message != nil {
				room := f.Room
				if room == "" {
					room = f.Message.Room
				}
				c.rcv.onMessage(room, f.Message.Seq, f.Message.Text, at)
			}
		}
	}
	c.mu.Lock()
	c.ended = true
	pend := c.pend
	c.pend = nil
	c.mu.Unlock()
	for _, cb := range pend {
		cb(reply{}, &clientError{codeNoReply, err})
	}
	if !c.closed.Load() && c.onDrop != nil {
		c.onDrop(c, err)
	}
}

// command is what every client command has in common.
type command struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
}

type sendCommand struct {
	command
	Text        string `json:"text"`
	ClientMsgID string `json:"client_msg_id"`
}

// do writes the command built for the next id and calls cb exactly once,
// from the read goroutine (the reply, or the end of the connection) or from
// this one (a write error).
func (c *client) do(ctx context.Context, build func(id int64) any, cb func(reply, error)) {
	id := c.nextID.Add(1)
	b, err := json.Marshal(build(id))
	if err != nil {
		cb(reply{}, err)
		return
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		cb(reply{}, &clientError{codeNoReply, errors.New("connection closed")})
		return
	}
	c.pend[id] = cb
	c.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	err = c.conn.Write(wctx, websocket.MessageText, b)
	cancel()
	if err != nil {
		c.mu.Lock()
		_, mine := c.pend[id] // the read loop may have failed it already
		delete(c.pend, id)
		c.mu.Unlock()
		if mine {
			cb(reply{}, &clientError{codeWriteError, err})
		}
	}
}

// call is do, waiting for the reply; a failed reply is an error. inReader,
// if set, sees a successful reply on the read goroutine, before any later
// frame is handled.
func (c *client) call(ctx context.Context, build func(id int64) any, inReader func(reply) error) (reply, error) {
	ch := make(chan struct{})
	var r reply
	var rerr error
	c.do(ctx, build, func(rep reply, err error) {
		r, rerr = rep, err
		switch {
		case rerr != nil:
		case !r.OK && r.Error == nil:
			rerr = errors.New("reply not ok, without an error object")
		case !r.OK:
			rerr = r.Error
		case inReader != nil:
			rerr = inReader(r)
		}
		close(ch)
	})
	t := time.NewTimer(callTimeout)
	defer t.Stop()
	select {
	case <-ch:
		return r, rerr
	case <-t.C:
		return reply{}, fmt.Errorf("no reply within %v", callTimeout)
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

// join joins room. If the client measures, its receiver takes the room's
// last_seq from the reply as the seq baseline.
func (c *client) join(ctx context.Context, room string) error {
	_, err := c.call(ctx, func(id int64) any {
		return command{ID: id, Type: "join", Room: room}
	}, func(r reply) error {
		var data struct {
			Room *struct {
				ID      string `json:"id"`
				LastSeq int64  `json:"last_seq"`
			} `json:"room"`
		}
		if err := json.Unmarshal(r.Data, &data); err != nil || data.Room == nil {
			return fmt.Errorf("reply data %q has no room", truncate(r.Data, 200))
		}
		if c.rcv != nil {
			c.rcv.joined(room, data.Room.LastSeq)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("join %s: %w", room, err)
	}
	return nil
}

// close ends the connection, with the close handshake (status 1000) if
// handshake is set, and waits for the read loop.
func (c *client) close(handshake bool) {
	c.closed.Store(true)
	if handshake {
		_ = c.conn.Close(websocket.StatusNormalClosure, "loadgen done")
	} else {
		_ = c.conn.CloseNow()
	}
	<-c.done
}

// dropCode names why the hub ended a connection: its close status, or
// "abnormal".
func dropCode(err error) string {
	if s := websocket.CloseStatus(err); s != -1 {
		return fmt.Sprintf("%d", int(s))
	}
	return "abnormal"
}
