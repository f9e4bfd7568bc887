package clustertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/clustertest"
	"github.com/pawfect/hub/internal/server/servertest"
)

// Bounds of the traffic helpers. They only keep a broken cluster from
// hanging the test; none is a claim about speed.
const (
	replyTimeout     = 15 * time.Second      // one send's reply on a live connection
	reconnectTimeout = 30 * time.Second      // finding another hub after a loss
	settleTimeout    = 45 * time.Second      // conditions polled by eventually
	pace             = 20 * time.Millisecond // between one peer's sends
	retryPause       = 50 * time.Millisecond
)

// traffic is a set of peers that send to one room and read it, each from
// its home hub, and record everything needed to check the delivery
// contract afterwards.
type traffic struct {
	t     *testing.T
	c     *clustertest.Cluster
	room  string
	peers []*peer
	stop  atomic.Bool
	wg    sync.WaitGroup

	acks  atomic.Int64 // sends acknowledged, all peers
	fails atomic.Int64 // sends refused, all peers
}

// peer is one user with one connection at a time. Its messages carry
// client_msg_id <name>-<n>; a send that got no reply (the connection was
// lost) or failed with unavailable is retried with the same id, as the
// protocol tells clients to.
type peer struct {
	tr        *traffic
	name      string
	acct      servertest.Account
	home      int
	mayRehome bool // may move to another hub when its connection ends

	mu       sync.Mutex // guards conns, acked, failures and problems
	conns    []*peerConn
	acked    []chat.Message
	failures []sendFailure
	problems []string // what the contract forbids; reported by check

	fails atomic.Int64 // len(failures), readable without mu
}

type peerConn struct {
	hub    int
	c      *clustertest.Client
	joinID int64 // the id of the join whose reply starts this connection's stream
}

type sendFailure struct {
	clientMsgID string
	hub         int
	code        chat.Code
}

// newTraffic registers n peers, peer i on hub i%hubs, connects each to its
// home hub and joins it to room with since 0 (so every stream starts at
// seq 1). mayRehome lets peers move to another hub when their connection
// ends; otherwise a lost connection is a problem.
func newTraffic(t *testing.T, c *clustertest.Cluster, room string, n int, mayRehome bool) *traffic {
	t.Helper()
	tr := &traffic{t: t, c: c, room: room}
	for i := range n {
		p := &peer{tr: tr, name: fmt.Sprintf("p%d", i), home: i % c.Len(), mayRehome: mayRehome}
		p.acct = c.API(p.home).Guest(t, p.name) // a guest: no bcrypt, a quicker start
		ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
		err := p.connect(ctx, p.home, 0)
		cancel()
		if err != nil {
			t.Fatalf("peer %s on hub%d: %v", p.name, p.home, err)
		}
		tr.peers = append(tr.peers, p)
	}
	t.Cleanup(func() {
		tr.halt()
		for _, p := range tr.peers {
			for _, pc := range p.conns {
				pc.c.Close()
			}
		}
	})
	return tr
}

// run starts every peer's send loop.
func (tr *traffic) run() {
	for _, p := range tr.peers {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			p.run()
		}()
	}
}

// halt stops the send loops and waits for them; sends in flight finish.
func (tr *traffic) halt() {
	tr.stop.Store(true)
	tr.wg.Wait()
}

// waitAcks waits until n more sends than at the call were acknowledged.
func (tr *traffic) waitAcks(n int64, what string) {
	tr.t.Helper()
	want := tr.acks.Load() + n
	eventually(tr.t, settleTimeout, what, func() bool { return tr.acks.Load() >= want || tr.stopped() })
	tr.failIfStopped(what)
}

// stopped reports whether every peer gave up (they do on a problem).
func (tr *traffic) stopped() bool {
	for _, p := range tr.peers {
		p.mu.Lock()
		n := len(p.problems)
		p.mu.Unlock()
		if n == 0 {
			return false
		}
	}
	return true
}

func (tr *traffic) failIfStopped(what string) {
	tr.t.Helper()
	if tr.stopped() {
		tr.halt()
		tr.report()
		tr.t.Fatalf("%s: every peer stopped on a problem", what)
	}
}

func (p *peer) problem(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

func (p *peer) current() *peerConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns[len(p.conns)-1]
}

// connect dials hub and joins the room with since, making that the
// peer's current connection.
func (p *peer) connect(ctx context.Context, hub int, since int64) error {
	cl, err := clustertest.Dial(ctx, p.tr.c.URL(hub), p.acct.Token)
	if err != nil {
		return err
	}
	f, err := cl.Do(ctx, "join", map[string]any{"room": p.tr.room, "since": since})
	if err == nil && !f.OK {
		err = fmt.Errorf("join: %s", f.Raw)
	}
	if err != nil {
		cl.Close()
		return err
	}
	p.mu.Lock()
	p.conns = append(p.conns, &peerConn{hub: hub, c: cl, joinID: f.ID})
	p.mu.Unlock()
	return nil
}

// run sends until the traffic stops or a problem makes going on pointless.
func (p *peer) run() {
	for n := 0; !p.tr.stop.Load(); n++ {
		if !p.deliver(fmt.Sprintf("%s-%d", p.name, n)) {
			return
		}
		time.Sleep(pace)
	}
}

// deliver sends one message until it is acknowledged or the traffic stops;
// it reports false on a problem.
func (p *peer) deliver(cmid string) bool {
	for !p.tr.stop.Load() {
		pc := p.current()
		ctx, cancel := context.WithTimeout(context.Background(), replyTimeout)
		f, err := pc.c.Do(ctx, "send", map[string]any{"room": p.tr.room, "text": cmid, "client_msg_id": cmid})
		cancel()
		switch {
		case errors.Is(err, clustertest.ErrClosed) && (p.mayRehome || closedForBeingSlow(pc.c)):
			if !p.mayRehome {
				p.tr.t.Logf("peer %s: hub%d closed it as a slow consumer (%v); it joins again with since", p.name, pc.hub, pc.c.Err())
			}
			if !p.rehome(pc) {
				return false
			}
		case err != nil:
			p.problem("send %s on hub%d: %v", cmid, pc.hub, err)
			return false
		case f.OK:
			var r struct{ Message chat.Message }
			if err := json.Unmarshal(f.Data, &r); err != nil || r.Message.ClientMsgID != cmid {
				p.problem("send %s on hub%d: reply %s does not hold the message", cmid, pc.hub, f.Raw)
				return false
			}
			p.mu.Lock()
			p.acked = append(p.acked, r.Message)
			p.mu.Unlock()
			p.tr.acks.Add(1)
			return true
		default:
			code := chat.Code("")
			if f.Error != nil {
				code = f.Error.Code
			}
			p.mu.Lock()
			p.failures = append(p.failures, sendFailure{clientMsgID: cmid, hub: pc.hub, code: code})
			p.mu.Unlock()
			p.fails.Add(1)
			p.tr.fails.Add(1)
			if code != chat.CodeUnavailable {
				p.problem("send %s on hub%d: got %s, want ok or unavailable", cmid, pc.hub, f.Raw)
			}
			time.Sleep(retryPause)
		}
	}
	return true
}

// closedForBeingSlow reports whether the hub closed c as a slow consumer
// (4008, or 1008 for missed pings), waiting briefly for the close to be
// read. The protocol allows that close at any time, a burst of repaired
// events after a bus outage included, and a client recovers from it by
// joining again with since: so even where connections must not be lost,
// that one may be, and the peer reconnects.
func closedForBeingSlow(c *clustertest.Client) bool {
	select {
	case <-c.Done():
	case <-time.After(replyTimeout):
		return false
	}
	switch websocket.CloseStatus(c.Err()) {
	case websocket.StatusCode(chat.CloseSlowConsumer), websocket.StatusCode(chat.ClosePolicy):
		return true
	}
	return false
}

// rehome replaces a lost connection with one to another hub (the others
// first, the lost one's last), joined with since = the last seq seen.
func (p *peer) rehome(lost *peerConn) bool {
	select {
	case <-lost.c.Done():
	case <-time.After(replyTimeout):
		p.problem("connection to hub%d failed a write but did not end", lost.hub)
		return false
	}
	since := int64(0)
	if s := p.stream(); len(s) > 0 {
		since = s[len(s)-1].Seq
	}
	n := p.tr.c.Len()
	deadline := time.Now().Add(reconnectTimeout)
	for i := 1; ; i++ {
		hub := (lost.hub + i) % n
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := p.connect(ctx, hub, since)
		cancel()
		if err == nil {
			return true
		}
		if time.Now().After(deadline) {
			p.problem("no hub took the connection lost on hub%d within %v; last error: %v", lost.hub, reconnectTimeout, err)
			return false
		}
		time.Sleep(retryPause)
	}
}

// stream is every message the peer received, over all its connections in
// order: each connection's join reply, then its message events.
func (p *peer) stream() []chat.Message {
	p.mu.Lock()
	conns := append([]*peerConn(nil), p.conns...)
	p.mu.Unlock()
	var out []chat.Message
	for _, pc := range conns {
		for _, f := range pc.c.Frames() {
			switch {
			case f.Type == chat.EventReply && f.ID == pc.joinID:
				var r struct {
					Messages []chat.Message `json:"messages"`
					HasMore  bool           `json:"has_more"`
				}
				if err := json.Unmarshal(f.Data, &r); err != nil {
					p.problem("hub%d: undecodable join reply %s", pc.hub, f.Raw)
				}
				if r.HasMore {
					// The test keeps recoveries short; paging is not modelled.
					p.problem("hub%d: join reply has_more: the recovery backlog exceeded one reply", pc.hub)
				}
				out = append(out, r.Messages...)
			case f.Type == chat.EventMessage && f.Room == p.tr.room:
				var ev chat.MessageEvent
				if err := json.Unmarshal(f.Raw, &ev); err != nil {
					p.problem("hub%d: undecodable message event %s", pc.hub, f.Raw)
				}
				out = append(out, ev.Message)
			}
		}
	}
	return out
}

// check stops the traffic and checks the contract: the stored history is
// gapless with each client_msg_id once; every acknowledged send is in it;
// every refusal was unavailable; and every peer received the whole history
// exactly once, in seq order, across its reconnects. It returns the
// history.
func (tr *traffic) check() []chat.Message {
	t := tr.t
	t.Helper()
	tr.halt()
	hist := history(t, tr.c.API(0), tr.peers[0].acct.Token, tr.room)
	byCMID := map[string]int64{}
	for i, m := range hist {
		if m.Seq != int64(i+1) {
			t.Fatalf("history position %d: got seq %d, want %d", i, m.Seq, i+1)
		}
		if prev, dup := byCMID[m.ClientMsgID]; dup && m.ClientMsgID != "" {
			t.Errorf("client_msg_id %s stored twice: seqs %d and %d", m.ClientMsgID, prev, m.Seq)
		}
		byCMID[m.ClientMsgID] = m.Seq
	}
	var acked, failed int
	for _, p := range tr.peers {
		p.mu.Lock()
		for _, pr := range p.problems {
			t.Errorf("peer %s: %s", p.name, pr)
		}
		for _, m := range p.acked {
			acked++
			if m.Seq < 1 || m.Seq > int64(len(hist)) || hist[m.Seq-1].ID != m.ID {
				t.Errorf("peer %s: acknowledged %s (seq %d, id %s) is not in the history of %d messages: acknowledged and lost",
					p.name, m.ClientMsgID, m.Seq, m.ID, len(hist))
			}
		}
		failed += len(p.failures)
		p.mu.Unlock()
	}
	if t.Failed() {
		tr.report()
		t.FailNow()
	}
	// Delivery: wait until every peer has all of it, failing at once on a
	// stream that is already wrong.
	for _, p := range tr.peers {
		var s []chat.Message
		eventually(t, settleTimeout, "peer "+p.name+" received the whole history", func() bool {
			s = p.stream()
			for i, m := range s {
				if i >= len(hist) || m.Seq != int64(i+1) || m.ID != hist[i].ID {
					tr.report()
					t.Fatalf("peer %s, message %d of its stream: got seq %d (%s)%s; want the history's seq %d: a loss, a duplicate or a reordering\n%s",
						p.name, i, m.Seq, m.ID, hubOf(p, i), i+1, seqs(s))
				}
			}
			return len(s) == len(hist)
		})
	}
	t.Logf("traffic: %d messages stored, %d acknowledged, %d refused (unavailable) and retried; every peer got all %d in order",
		len(hist), acked, failed, len(hist))
	return hist
}

// report logs each peer's connections and counts, for a failing test.
func (tr *traffic) report() {
	for _, p := range tr.peers {
		p.mu.Lock()
		var hubs []string
		for _, pc := range p.conns {
			hubs = append(hubs, fmt.Sprintf("hub%d(%v)", pc.hub, pc.c.Err()))
		}
		tr.t.Logf("peer %s: connections %s; %d acked, %d refused, problems %q",
			p.name, strings.Join(hubs, " → "), len(p.acked), len(p.failures), p.problems)
		p.mu.Unlock()
	}
}

// hubOf names the connection that delivered position i of p's stream.
func hubOf(p *peer, i int) string {
	p.mu.Lock()
	conns := append([]*peerConn(nil), p.conns...)
	p.mu.Unlock()
	n := 0
	for k, pc := range conns {
		for _, f := range pc.c.Frames() {
			if (f.Type == chat.EventReply && f.ID == pc.joinID) || f.Type == chat.EventMessage {
				var r struct {
					Messages []chat.Message `json:"messages"`
				}
				count := 1
				if f.Type == chat.EventReply {
					_ = json.Unmarshal(f.Data, &r)
					count = len(r.Messages)
				}
				if i < n+count {
					return fmt.Sprintf(" from hub%d (connection %d)", pc.hub, k)
				}
				n += count
			}
		}
	}
	return ""
}

func seqs(ms []chat.Message) string {
	var b strings.Builder
	b.WriteString("stream seqs:")
	for _, m := range ms {
		fmt.Fprintf(&b, " %d", m.Seq)
	}
	return b.String()
}

// history reads a room's whole history over the HTTP API, oldest first.
func history(t *testing.T, api *servertest.Hub, token, room string) []chat.Message {
	t.Helper()
	var all []chat.Message
	for {
		var page struct {
			Messages []chat.Message `json:"messages"`
			HasMore  bool           `json:"has_more"`
		}
		after := int64(0)
		if n := len(all); n > 0 {
			after = all[n-1].Seq
		}
		api.JSON(t, "GET", fmt.Sprintf("/api/rooms/%s/messages?after_seq=%d&limit=200", room, after), token, nil, http.StatusOK, &page)
		all = append(all, page.Messages...)
		if !page.HasMore || len(page.Messages) == 0 {
			return all
		}
	}
}

// eventually polls cond until it holds, failing the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReadiness waits until every hub's /readyz is (or is not) 200.
func waitReadiness(t *testing.T, c *clustertest.Cluster, ready bool) {
	t.Helper()
	state := "200"
	if !ready {
		state = "not 200"
	}
	for i, url := range c.URLs() {
		eventually(t, settleTimeout, fmt.Sprintf("hub%d /readyz %s", i, state), func() bool {
			return clustertest.Ready(url) == ready
		})
	}
}
