package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// dialRaw opens a bare WebSocket that reads only when the test says so.
func dialRaw(t *testing.T, h *servertest.Hub, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.URL, "http")+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

// rawJoin sends a join on ws and reads until its reply.
func rawJoin(t *testing.T, ws *websocket.Conn, room string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), servertest.Wait)
	defer cancel()
	cmd, _ := json.Marshal(map[string]any{"id": 1, "type": "join", "room": room})
	if err := ws.Write(ctx, websocket.MessageText, cmd); err != nil {
		t.Fatalf("write join: %v", err)
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read join reply: %v", err)
		}
		var f servertest.Frame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		if f.Type == chat.EventReply && f.ID == 1 {
			if !f.OK {
				t.Fatalf("join: got %s, want ok", data)
			}
			return
		}
	}
}

// TestSlowConsumerIsDropped: a client that stops reading is closed with
// 4008 once its bounded queue is full, and a client that keeps reading
// gets every message, in order, meanwhile.
func TestSlowConsumerIsDropped(t *testing.T) {
	h := servertest.Start(t, servertest.Options{Env: map[string]string{
		"HUB_OUTBOUND_QUEUE":    "8",
		"HUB_SEND_RATE":         "100000/1s",
		"HUB_MAX_MESSAGE_CHARS": "4000",
	}})
	alice, bob, carol := h.Register(t, "alice"), h.Register(t, "bob"), h.Register(t, "carol")
	room := h.CreateRoom(t, alice, "firehose", chat.KindPublic)

	slow := dialRaw(t, h, bob.Token)
	rawJoin(t, slow, room.ID) // and never read again until dropped
	normal := h.Dial(t, servertest.DialOptions{Token: carol.Token})
	normal.Join(room.ID, -1)

	const (
		maxPosts  = 3000
		afterDrop = 50 // messages posted after the drop was seen
	)
	dropped := func() bool { return metric(t, h, "hub_slow_consumers_dropped_total") >= 1 }
	slowEnd := make(chan error, 1)
	readSlow := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for {
			if _, _, err := slow.Read(ctx); err != nil {
				slowEnd <- err
				return
			}
		}
	}
	posted, droppedAt := 0, 0
	for posted < maxPosts && (droppedAt == 0 || posted < droppedAt+afterDrop) {
		posted++
		text := fmt.Sprintf("%05d ", posted) + strings.Repeat("x", 3900)
		h.JSON(t, "POST", "/api/rooms/"+room.ID+"/messages", alice.Token, map[string]any{"text": text}, http.StatusCreated, nil)
		if droppedAt == 0 && posted%10 == 0 && dropped() {
			droppedAt = posted
			// Read right away: the hub's close frame waits behind the
			// frames already in the socket.
			go readSlow()
		}
	}
	if droppedAt == 0 {
		t.Fatalf("after %d messages of ~3900 characters the non-reading client was not dropped (hub_slow_consumers_dropped_total is %v)",
			posted, metric(t, h, "hub_slow_consumers_dropped_total"))
	}
	t.Logf("slow consumer dropped by message %d; %d posted", droppedAt, posted)

	err := <-slowEnd
	if code := websocket.CloseStatus(err); code != chat.CloseSlowConsumer {
		t.Errorf("slow client: got close status %d (%v), want %d", code, err, chat.CloseSlowConsumer)
	}

	got := normal.Messages(posted)
	for i, m := range got {
		if m.Seq != int64(i+1) || !strings.HasPrefix(m.Text, fmt.Sprintf("%05d ", i+1)) {
			t.Fatalf("normal client's message %d: got seq %d text %.6q, want seq %d (every message, in order)", i, m.Seq, m.Text, i+1)
		}
	}
	normal.OK("ping", nil, nil) // still connected
	if extra := normal.Events(chat.EventMessage); len(extra) != 0 {
		t.Fatalf("normal client: got %d extra message events, want 0", len(extra))
	}
	if got := metric(t, h, "hub_slow_consumers_dropped_total"); got != 1 {
		t.Errorf("hub_slow_consumers_dropped_total: got %v, want 1 (only the slow client)", got)
	}
}
