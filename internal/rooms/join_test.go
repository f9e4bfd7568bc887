package rooms

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// frameConn records every frame it is handed, and the join reply as a
// marker, in order.
type frameConn struct {
	id   string
	user chat.User

	mu     sync.Mutex // guards frames
	frames []string
}

func (c *frameConn) ID() string      { return c.id }
func (c *frameConn) User() chat.User { return c.user }
func (c *frameConn) Removed(string)  {}
func (c *frameConn) Overflowed()     { c.record("overflowed") }
func (c *frameConn) Deliver(frame []byte) {
	c.record(string(frame))
}

func (c *frameConn) record(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, s)
}

func (c *frameConn) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.frames)
}

// A Broadcast (a call's call_state) that arrives while a connection is
// joining is held and delivered right after the reply, so the state read
// for the reply (JoinOptions.Extra) is never overtaken unseen; typing that
// arrives then is dropped, as before.
func TestBroadcastDuringJoinFollowsTheReply(t *testing.T) {
	f := newFixture(t, time.Hour)
	c := &frameConn{id: chat.NewID("c_"), user: f.alice}
	state := `{"type":"call_state","room":"` + f.room.ID + `","call":{"id":"c1"}}`
	typing := `{"type":"typing","room":"` + f.room.ID + `"}`
	err := f.svc.Join(context.Background(), c, f.room.ID, JoinOptions{Extra: func(context.Context) any {
		// Both arrive from the bus while the connection is in the room
		// but its reply is not out yet.
		rs := f.svc.localState(f.room.ID)
		rs.onEph(encode(ephEnvelope{Event: []byte(state), Keep: true}))
		rs.onEph(encode(ephEnvelope{Event: []byte(typing)}))
		return "the call as read"
	}}, func(r JoinResult) {
		c.record("reply: " + r.Extra.(string))
	})
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	// The join's own presence event may follow; it is not the point here.
	want := []string{"reply: the call as read", state}
	if got := c.got(); len(got) < 2 || !slices.Equal(got[:2], want) || slices.Contains(got, typing) {
		t.Fatalf("frames: got %q, want %q first and no typing", got, want)
	}
}
