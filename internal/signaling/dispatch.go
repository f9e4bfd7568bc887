package signaling

import (
	"context"
	"encoding/json"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/rooms"
)

// commandTimeout bounds one command's work against the backends.
const commandTimeout = 15 * time.Second

type replyFrame struct {
	Type  string      `json:"type"`
	ID    int64       `json:"id"`
	OK    bool        `json:"ok"`
	Data  any         `json:"data,omitempty"`
	Error *chat.Error `json:"error,omitempty"`
}

var emptyData = struct{}{}

// reply enqueues the one reply to command id.
func (c *conn) reply(id int64, data any, err error) {
	c.Deliver(c.encodeReply(id, data, err))
}

func (c *conn) encodeReply(id int64, data any, err error) []byte {
	f := replyFrame{Type: chat.EventReply, ID: id, OK: err == nil}
	if err != nil {
		e := chat.AsError(err)
		if e.Code == chat.CodeInternal || e.Code == chat.CodeUnavailable {
			c.g.log.Error("signaling: command failed", "conn", c.id, "id", id, "err", err)
		}
		f.Error = e
	} else {
		if data == nil {
			data = emptyData
		}
		f.Data = data
	}
	b, mErr := json.Marshal(f)
	if mErr != nil {
		c.g.log.Error("signaling: encode reply", "conn", c.id, "err", mErr)
		b, _ = json.Marshal(replyFrame{Type: chat.EventReply, ID: id, Error: chat.Errorf(chat.CodeInternal, "internal error")})
	}
	return b
}

// handle runs one command frame to completion and replies.
func (g *Gateway) handle(ctx context.Context, c *conn, data []byte) {
	cmd, derr := decodeCommand(data)
	if derr != nil {
		c.reply(cmd.ID, nil, derr)
		return
	}
	if cmd.Type == cmdAuth {
		g.handleAuth(ctx, c, cmd)
		return
	}
	if c.user.Load() == nil {
		c.reply(cmd.ID, nil, chat.Errorf(chat.CodeUnauthorized, "send auth first"))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	u := c.User()
	switch cmd.Type {
	case cmdPing:
		c.reply(cmd.ID, nil, nil)
	case cmdJoin:
		g.handleJoin(ctx, c, cmd)
	case cmdLeave:
		if c.unjoin(cmd.Room) {
			g.metrics.JoinedRooms(-1)
		}
		c.reply(cmd.ID, nil, g.rooms.Leave(ctx, c, cmd.Room))
	case cmdSend:
		m, err := g.rooms.Send(ctx, u, rooms.SendRequest{
			Room: cmd.Room, Text: *cmd.Text, ClientMsgID: cmd.ClientMsgID,
			ReplyTo: cmd.ReplyTo, Attachments: cmd.Attachments,
		})
		c.replyMessage(cmd.ID, m, err)
	case cmdTyping:
		c.reply(cmd.ID, nil, g.rooms.Typing(ctx, u, cmd.Room, *cmd.Active))
	case cmdHistory:
		req := rooms.HistoryRequest{BeforeSeq: deref(cmd.BeforeSeq), AfterSeq: deref(cmd.AfterSeq), After: cmd.AfterSeq != nil}
		if cmd.Limit != nil {
			req.Limit = *cmd.Limit
		}
		msgs, more, err := g.rooms.History(ctx, u, cmd.Room, req)
		if err != nil {
			c.reply(cmd.ID, nil, err)
			return
		}
		c.reply(cmd.ID, historyData{Messages: msgs, HasMore: more}, nil)
	case cmdEdit:
		m, err := g.rooms.Edit(ctx, u, cmd.Room, *cmd.Seq, *cmd.Text)
		c.replyMessage(cmd.ID, m, err)
	case cmdDelete:
		c.reply(cmd.ID, nil, g.rooms.Delete(ctx, u, cmd.Room, *cmd.Seq))
	default:
		if g.handleCall(ctx, c, cmd) {
			return
		}
		// decodeCommand only lets known types through; a type listed there
		// without a case here is a bug.
		c.reply(cmd.ID, nil, chat.Errorf(chat.CodeInternal, "command %q is not handled", cmd.Type))
	}
}

type messageData struct {
	Message chat.Message `json:"message"`
}

type historyData struct {
	Messages []chat.Message `json:"messages"`
	HasMore  bool           `json:"has_more"`
}

type authData struct {
	User    chat.User `json:"user"`
	Session string    `json:"session"`
}

type joinData struct {
	Room     chat.Room         `json:"room"`
	Online   []chat.User       `json:"online"`
	Messages []chat.Message    `json:"messages"`
	HasMore  bool              `json:"has_more"`
	Streams  []json.RawMessage `json:"streams"`
	Call     json.RawMessage   `json:"call"`
}

func (c *conn) replyMessage(id int64, m chat.Message, err error) {
	if err != nil {
		c.reply(id, nil, err)
		return
	}
	c.reply(id, messageData{Message: m}, nil)
}

func (g *Gateway) handleAuth(ctx context.Context, c *conn, cmd command) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	u, err := g.auth.Authenticate(ctx, cmd.Token)
	if err != nil {
		e := chat.AsError(err)
		c.reply(cmd.ID, nil, e)
		if e.Code == chat.CodeUnauthorized {
			c.closeAfterFlush(chat.CloseUnauthorized, "invalid token")
		}
		return
	}
	if prev := c.user.Load(); prev != nil && prev.ID != u.ID {
		c.reply(cmd.ID, nil, chat.Errorf(chat.CodeConflict, "this connection is signed in as another user"))
		return
	}
	c.user.Store(&u)
	c.reply(cmd.ID, authData{User: u, Session: c.id}, nil)
}

func (g *Gateway) handleJoin(ctx context.Context, c *conn, cmd command) {
	added, lerr := c.join(cmd.Room)
	if lerr != nil {
		c.reply(cmd.ID, nil, lerr)
		return
	}
	opts := rooms.JoinOptions{Since: cmd.Since, Extra: func(ctx context.Context) any { return g.liveCall(ctx, cmd.Room) }}
	err := g.rooms.Join(ctx, c, cmd.Room, opts, func(res rooms.JoinResult) {
		call, _ := res.Extra.(json.RawMessage)
		c.reply(cmd.ID, joinData{
			Room: res.Room, Online: res.Online, Messages: res.Messages, HasMore: res.HasMore,
			Streams: []json.RawMessage{}, Call: call,
		}, nil)
	})
	if err != nil {
		if added {
			c.unjoin(cmd.Room)
		}
		c.reply(cmd.ID, nil, err)
		return
	}
	if added {
		g.metrics.JoinedRooms(1)
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
