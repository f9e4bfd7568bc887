package sfurpc

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/chat"
)

// Defaults for zero ClientOptions fields.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultLostAfter      = 3 * DefaultBeatInterval
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// Embedded is the node id of the hub's own in-process SFU when
	// HUB_SFU=embedded: Place always returns it. Empty places on the
	// least-loaded live node.
	Embedded string
	// RequestTimeout bounds each request when ctx allows longer; default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// LostAfter is how long a node may go without a beat before it counts
	// as lost; default DefaultLostAfter.
	LostAfter time.Duration
	// OnNodeLost, if set, is called once for each node that stopped beating
	// or said bye, on a goroutine of its own; Close waits for it. The node
	// is forgotten first: a later beat makes it live again.
	OnNodeLost func(node string)
	Log        *slog.Logger
}

// NodeInfo is a live SFU node as the client last heard of it.
type NodeInfo struct {
	Node     string    `json:"node"`
	Load     Load      `json:"load"`
	LastBeat time.Time `json:"last_beat"`
}

// Client is the hub's side: it tracks the live SFU nodes from their beats,
// places calls, and sends each call operation to the node holding the call.
// Its methods are safe for concurrent use.
type Client struct {
	b   *bus.Bus
	o   ClientOptions
	log *slog.Logger

	mu     sync.Mutex           // guards nodes, grace, closed and wg.Add
	nodes  map[string]*NodeInfo // live nodes by id
	closed bool                 // set by Close: no more OnNodeLost calls
	// grace is when this hub's own bus outage stops excusing the nodes'
	// silence: until then nobody is counted lost.
	grace time.Time

	sub  *bus.Subscription
	stop chan struct{}
	wg   sync.WaitGroup // the watch loop and OnNodeLost calls
	once sync.Once
}

// NewClient subscribes to the nodes' beats, asks every node to announce
// itself at once, and watches for nodes that fall silent until Close.
func NewClient(b *bus.Bus, o ClientOptions) (*Client, error) {
	if o.Embedded != "" && !bus.ValidToken(o.Embedded) {
		return nil, fmt.Errorf("sfurpc: new client: embedded node id %q: %w", o.Embedded, bus.ErrBadSubject)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.LostAfter <= 0 {
		o.LostAfter = DefaultLostAfter
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		b: b, o: o,
		log:   o.Log.With("component", "sfurpc"),
		nodes: make(map[string]*NodeInfo),
		stop:  make(chan struct{}),
	}
	sub, err := b.Subscribe(b.SFUBeats(), c.onBeat)
	if err != nil {
		return nil, fmt.Errorf("sfurpc: new client: %w", err)
	}
	c.sub = sub
	c.hello()
	c.wg.Add(1)
	go c.watch()
	return c, nil
}

// Close stops watching and waits for running OnNodeLost calls. It is safe
// to call more than once.
func (c *Client) Close() {
	c.once.Do(func() {
		if err := c.sub.Unsubscribe(); err != nil {
			c.log.Debug("sfurpc: unsubscribe", "err", err)
		}
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.stop)
		c.wg.Wait()
	})
}

func (c *Client) hello() {
	data, _ := json.Marshal(beat{Hello: true})
	ctx, cancel := context.WithTimeout(context.Background(), c.o.RequestTimeout)
	defer cancel()
	if err := c.b.Publish(ctx, c.b.SFUBeats(), data); err != nil {
		c.log.Debug("sfurpc: hello", "err", err)
	}
}

func (c *Client) onBeat(data []byte) {
	var m beat
	if err := json.Unmarshal(data, &m); err != nil {
		c.log.Warn("sfurpc: undecodable beat", "err", err)
		return
	}
	if m.Hello || !bus.ValidToken(m.Node) {
		return
	}
	c.mu.Lock()
	if m.Bye {
		_, known := c.nodes[m.Node]
		delete(c.nodes, m.Node)
		c.mu.Unlock()
		if known {
			c.log.Info("sfurpc: sfu node said bye", "sfu_node", m.Node)
			c.lost(m.Node)
		}
		return
	}
	n := c.nodes[m.Node]
	if n == nil {
		n = &NodeInfo{Node: m.Node}
		c.nodes[m.Node] = n
		c.log.Info("sfurpc: sfu node live", "sfu_node", m.Node)
	}
	if m.Load != nil {
		n.Load = *m.Load
	}
	n.LastBeat = time.Now()
	c.mu.Unlock()
}

// watch counts nodes lost when they go LostAfter without a beat, checking
// a few times per LostAfter.
func (c *Client) watch() {
	defer c.wg.Done()
	t := time.NewTicker(max(c.o.LostAfter/4, time.Millisecond))
	defer t.Stop()
	down := false // the bus was down at the last tick
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if !c.b.Connected() {
			down = true
			continue
		}
		if down {
			// Back on the bus: the nodes' silence was ours. Give them a
			// full LostAfter to be heard again, and ask them to speak now.
			down = false
			c.mu.Lock()
			c.grace = time.Now().Add(c.o.LostAfter)
			c.mu.Unlock()
			c.hello()
		}
		for _, n := range c.expire() {
			c.log.Warn("sfurpc: sfu node lost: no beat and no bye", "sfu_node", n, "after", c.o.LostAfter)
			c.lost(n)
		}
	}
}

// expire forgets the nodes unheard for LostAfter and returns them. Only
// watch calls it, and a bye deletes under the same lock, so each loss is
// reported once.
func (c *Client) expire() []string {
	now := time.Now()
	cutoff := now.Add(-c.o.LostAfter)
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.grace) {
		return nil
	}
	var lost []string
	for id, n := range c.nodes {
		if n.LastBeat.Before(cutoff) {
			delete(c.nodes, id)
			lost = append(lost, id)
		}
	}
	slices.Sort(lost)
	return lost
}

func (c *Client) lost(node string) {
	if c.o.OnNodeLost == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return // closing: nobody is left to act on it
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.o.OnNodeLost(node)
	}()
}

// Nodes lists the live nodes, sorted by id.
func (c *Client) Nodes() []NodeInfo {
	c.mu.Lock()
	out := make([]NodeInfo, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, *n)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b NodeInfo) int { return cmp.Compare(a.Node, b.Node) })
	return out
}

// Place picks the node for a new call: the embedded node when there is
// one, else the node with the fewest peers, then the fewest calls, then
// the smallest id, among those heard from within half of LostAfter. A
// node silent for longer may be dead and not yet reported lost: a call
// placed on it would end (sfu_lost) moments later. With no such node it
// fails with unavailable.
func (c *Client) Place(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", chat.Wrap(chat.CodeUnavailable, err, "no SFU node: the request was cancelled")
	}
	if c.o.Embedded != "" {
		return c.o.Embedded, nil
	}
	fresh := time.Now().Add(-c.o.LostAfter / 2)
	nodes := slices.DeleteFunc(c.Nodes(), func(n NodeInfo) bool { return n.LastBeat.Before(fresh) })
	if len(nodes) == 0 {
		return "", chat.Errorf(chat.CodeUnavailable, "no SFU node has announced itself lately")
	}
	best := slices.MinFunc(nodes, func(a, b NodeInfo) int {
		return cmp.Or(
			cmp.Compare(a.Load.Peers, b.Load.Peers),
			cmp.Compare(a.Load.Calls, b.Load.Calls),
			cmp.Compare(a.Node, b.Node))
	})
	return best.Node, nil
}

// Join adds peer (the connection id) for user to call on node; the node
// then sends the peer's offer and candidates on bus.ConnRTC(peer).
func (c *Client) Join(ctx context.Context, node, call, peer, user, kind string) error {
	_, err := c.do(ctx, node, request{Op: opJoin, Call: call, Peer: peer, User: user, Kind: kind})
	return err
}

// Answer hands the peer's SDP answer to node.
func (c *Client) Answer(ctx context.Context, node, call, peer, sdp string) error {
	_, err := c.do(ctx, node, request{Op: opAnswer, Call: call, Peer: peer, SDP: sdp})
	return err
}

// Candidate hands one of the peer's ICE candidates (RTCIceCandidateInit
// JSON) to node.
func (c *Client) Candidate(ctx context.Context, node, call, peer string, cand json.RawMessage) error {
	_, err := c.do(ctx, node, request{Op: opCandidate, Call: call, Peer: peer, Candidate: cand})
	return err
}

// Publish asks node to receive source (camera, microphone or screen) from
// the peer.
func (c *Client) Publish(ctx context.Context, node, call, peer, source string) error {
	_, err := c.do(ctx, node, request{Op: opPublish, Call: call, Peer: peer, Source: source})
	return err
}

// Leave removes the peer from call on node.
func (c *Client) Leave(ctx context.Context, node, call, peer string) error {
	_, err := c.do(ctx, node, request{Op: opLeave, Call: call, Peer: peer})
	return err
}

// End closes every peer of call on node.
func (c *Client) End(ctx context.Context, node, call string) error {
	_, err := c.do(ctx, node, request{Op: opEnd, Call: call})
	return err
}

// Stats reports call's participants on node with their tracks. The users
// carry only their ids: the node knows no more of them.
func (c *Client) Stats(ctx context.Context, node, call string) ([]chat.CallParticipant, error) {
	r, err := c.do(ctx, node, request{Op: opStats, Call: call})
	if err != nil {
		return nil, err
	}
	return r.Participants, nil
}

// do sends one request and decodes the reply. Every error is a *chat.Error:
// the node's own code, or unavailable when it cannot be reached in time.
func (c *Client) do(ctx context.Context, node string, req request) (reply, error) {
	if !bus.ValidToken(node) {
		return reply{}, chat.Errorf(chat.CodeBadRequest, "sfu node id %q is missing or not token-safe", node)
	}
	data, err := json.Marshal(req)
	if err != nil {
		return reply{}, chat.Wrap(chat.CodeBadRequest, err, "sfu "+req.Op+": the request cannot be encoded")
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.RequestTimeout)
	defer cancel()
	out, err := c.b.Request(ctx, c.b.SFUNode(node), data)
	if err != nil {
		return reply{}, c.unreachable(node, req.Op, err)
	}
	var r reply
	if err := json.Unmarshal(out, &r); err != nil {
		return reply{}, chat.Wrap(chat.CodeInternal, err, "sfu node "+node+" sent an undecodable reply")
	}
	if !r.OK {
		if r.Error == nil || r.Error.Code == "" {
			return reply{}, chat.Errorf(chat.CodeInternal, "sfu node %s refused %s without saying why", node, req.Op)
		}
		return reply{}, &chat.Error{Code: r.Error.Code, Message: r.Error.Message}
	}
	return r, nil
}

func (c *Client) unreachable(node, op string, err error) error {
	var msg string
	switch {
	case errors.Is(err, bus.ErrNoResponders):
		msg = "sfu node " + node + " is not running"
	case errors.Is(err, context.DeadlineExceeded):
		msg = "sfu node " + node + " did not answer in time"
	case errors.Is(err, context.Canceled):
		msg = "sfu " + op + " was cancelled"
	case errors.Is(err, chat.ErrUnavailable):
		msg = "the bus to sfu node " + node + " is down"
	default:
		c.log.Error("sfurpc: request failed", "sfu_node", node, "op", op, "err", err)
		return chat.Wrap(chat.CodeInternal, err, "internal error")
	}
	c.log.Debug("sfurpc: request failed", "sfu_node", node, "op", op, "err", err)
	return chat.Wrap(chat.CodeUnavailable, fmt.Errorf("sfurpc: %s on %s: %w", op, node, err), msg)
}
