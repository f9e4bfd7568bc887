package sfurpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/natstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = 10 * time.Second

// Short periods so loss detection runs many times per test; nothing
// asserts on them, tests poll.
const (
	testBeat      = 20 * time.Millisecond
	testLostAfter = 150 * time.Millisecond
)

// backend is one way of reaching NATS: the in-process server, or the real
// one named by HUB_TEST_NATS_URL.
type backend struct{ name, url string }

func forEachBackend(t *testing.T, fn func(t *testing.T, be backend)) {
	for _, be := range []backend{{name: "embedded"}, {name: "nats"}} {
		t.Run(be.name, func(t *testing.T) {
			if be.name == "nats" {
				be.url = natstest.URL(t)
			}
			fn(t, be)
		})
	}
}

// uniquePrefix keeps runs against a shared NATS apart.
func uniquePrefix(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "sfurpctest" + hex.EncodeToString(b[:])
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openBus connects to be under prefix; Close is registered for cleanup
// (closing twice is fine).
func openBus(t *testing.T, be backend, prefix string) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	b, err := bus.Open(ctx, bus.Options{URL: be.url, Prefix: prefix, Logger: quiet(), Name: "sfurpc-test"})
	if err != nil {
		t.Fatalf("bus.Open: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// eventually polls cond until it holds, failing the test after waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after %s: %s", waitFor, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// call is one engine call as the test engine saw it.
type call struct {
	Op, Call, Peer, User, Kind, SDP, Candidate, Source string
}

// engine is a test Engine: it records every call, answers with the error
// set for its op, and signals like an SFU would (an offer and a candidate
// on join, a new offer on publish).
type engine struct {
	mu       sync.Mutex
	calls    []call
	errs     map[string]error        // op → error to return
	load     Load                    // reported in beats
	stats    []chat.CallParticipant  // Stats' answer
	signals  map[string]func(Signal) // peer → its signal function
	jitter   bool                    // Candidate yields a little, to shuffle unordered work
	blocked  chan struct{}           // closed when a blocking Answer has started
	released chan struct{}           // closing it ends a blocking Answer early
	onceBlk  sync.Once
}

func newEngine() *engine {
	return &engine{errs: map[string]error{}, signals: map[string]func(Signal){},
		blocked: make(chan struct{}), released: make(chan struct{})}
}

func (e *engine) record(c call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, c)
	return e.errs[c.Op]
}

func (e *engine) recorded() []call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

func (e *engine) setErr(op string, err error) {
	e.mu.Lock()
	e.errs[op] = err
	e.mu.Unlock()
}

func (e *engine) setLoad(l Load) {
	e.mu.Lock()
	e.load = l
	e.mu.Unlock()
}

const testCandidate = `{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}`

func (e *engine) Join(_ context.Context, callID, peer, user, kind string, signal func(Signal)) error {
	if err := e.record(call{Op: opJoin, Call: callID, Peer: peer, User: user, Kind: kind}); err != nil {
		return err
	}
	e.mu.Lock()
	e.signals[peer] = signal
	e.mu.Unlock()
	signal(Signal{Type: SignalOffer, SDP: "v=0 offer-1 " + peer})
	signal(Signal{Type: SignalCandidate, Candidate: json.RawMessage(testCandidate)})
	return nil
}

func (e *engine) Answer(ctx context.Context, callID, peer, sdp string) error {
	if sdp == "block" {
		e.onceBlk.Do(func() { close(e.blocked) })
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.released:
			return nil
		}
	}
	return e.record(call{Op: opAnswer, Call: callID, Peer: peer, SDP: sdp})
}

func (e *engine) Candidate(_ context.Context, callID, peer string, cand json.RawMessage) error {
	e.mu.Lock()
	jitter := e.jitter
	e.mu.Unlock()
	if jitter {
		var b [1]byte
		_, _ = rand.Read(b[:])
		time.Sleep(time.Duration(b[0]%8) * 100 * time.Microsecond)
	}
	return e.record(call{Op: opCandidate, Call: callID, Peer: peer, Candidate: string(cand)})
}

func (e *engine) Publish(_ context.Context, callID, peer, source string) error {
	if err := e.record(call{Op: opPublish, Call: callID, Peer: peer, Source: source}); err != nil {
		return err
	}
	e.mu.Lock()
	signal := e.signals[peer]
	e.mu.Unlock()
	if signal != nil {
		signal(Signal{Type: SignalOffer, SDP: "v=0 offer-2 " + source})
	}
	return nil
}

func (e *engine) Leave(_ context.Context, callID, peer string) error {
	return e.record(call{Op: opLeave, Call: callID, Peer: peer})
}

func (e *engine) End(_ context.Context, callID string) error {
	return e.record(call{Op: opEnd, Call: callID})
}

func (e *engine) Stats(callID string) ([]chat.CallParticipant, error) {
	if err := e.record(call{Op: opStats, Call: callID}); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats, nil
}

func (e *engine) Load() Load {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.load
}

// Engine errors, classified the way the lead maps internal/sfu's.
var (
	errNotFound   = errors.New("sfu: not found")
	errBadRequest = errors.New("sfu: bad request")
	errConflict   = errors.New("sfu: conflict")
	errTooMany    = errors.New("sfu: too many tracks")
)

func classify(err error) chat.Code {
	switch {
	case errors.Is(err, errNotFound):
		return chat.CodeNotFound
	case errors.Is(err, errBadRequest):
		return chat.CodeBadRequest
	case errors.Is(err, errConflict):
		return chat.CodeConflict
	case errors.Is(err, errTooMany):
		return chat.CodeTooLarge
	}
	return ""
}

func startServer(t *testing.T, b *bus.Bus, node string, e *engine) *Server {
	t.Helper()
	s, err := NewServer(b, node, e, ServerOptions{Log: quiet(), BeatInterval: testBeat, Classify: classify})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func startClient(t *testing.T, b *bus.Bus, o ClientOptions) *Client {
	t.Helper()
	if o.LostAfter == 0 {
		o.LostAfter = testLostAfter
	}
	o.Log = quiet()
	c, err := NewClient(b, o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// frames collects what arrives on ConnRTC(peer).
func frames(t *testing.T, b *bus.Bus, peer string) <-chan string {
	t.Helper()
	ch := make(chan string, 16)
	sub, err := b.Subscribe(b.ConnRTC(peer), func(d []byte) { ch <- string(d) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	// A round trip makes sure the server has the subscription before
	// anything is published to it.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	return ch
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(waitFor):
		t.Fatal("no frame within", waitFor)
		return ""
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

func TestEveryOpRoundTrips(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		e := newEngine()
		e.stats = []chat.CallParticipant{{
			User:   chat.User{ID: "u1"},
			Tracks: []chat.TrackInfo{{ID: "u1:camera", Kind: "video", Source: "camera", BitrateKbps: 1500, Packets: 4200}},
		}}
		startServer(t, b, "n1", e)
		c := startClient(t, b, ClientOptions{})
		ctx := ctxT(t)
		rtc := frames(t, b, "conn1")

		if err := c.Join(ctx, "n1", "call1", "conn1", "u1", "video"); err != nil {
			t.Fatalf("Join: %v", err)
		}
		if got, want := next(t, rtc), `{"type":"rtc_offer","call_id":"call1","sdp":"v=0 offer-1 conn1"}`; got != want {
			t.Errorf("first frame:\ngot  %s\nwant %s", got, want)
		}
		if got, want := next(t, rtc), `{"type":"rtc_candidate","call_id":"call1","candidate":`+testCandidate+`}`; got != want {
			t.Errorf("second frame:\ngot  %s\nwant %s", got, want)
		}
		if err := c.Answer(ctx, "n1", "call1", "conn1", "v=0 answer"); err != nil {
			t.Fatalf("Answer: %v", err)
		}
		if err := c.Candidate(ctx, "n1", "call1", "conn1", json.RawMessage(testCandidate)); err != nil {
			t.Fatalf("Candidate: %v", err)
		}
		if err := c.Publish(ctx, "n1", "call1", "conn1", "screen"); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		if got, want := next(t, rtc), `{"type":"rtc_offer","call_id":"call1","sdp":"v=0 offer-2 screen"}`; got != want {
			t.Errorf("renegotiation frame:\ngot  %s\nwant %s", got, want)
		}
		parts, err := c.Stats(ctx, "n1", "call1")
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if got, want := fmt.Sprint(parts), fmt.Sprint(e.stats); got != want {
			t.Errorf("Stats: got %s, want %s", got, want)
		}
		// The engine closing the peer by itself becomes rtc_closed.
		e.mu.Lock()
		signal := e.signals["conn1"]
		e.mu.Unlock()
		signal(Signal{Type: SignalClosed})
		if got, want := next(t, rtc), `{"type":"rtc_closed","call_id":"call1","reason":"connection_failed"}`; got != want {
			t.Errorf("closed frame:\ngot  %s\nwant %s", got, want)
		}
		if err := c.Leave(ctx, "n1", "call1", "conn1"); err != nil {
			t.Fatalf("Leave: %v", err)
		}
		if err := c.End(ctx, "n1", "call1"); err != nil {
			t.Fatalf("End: %v", err)
		}

		want := []call{
			{Op: opJoin, Call: "call1", Peer: "conn1", User: "u1", Kind: "video"},
			{Op: opAnswer, Call: "call1", Peer: "conn1", SDP: "v=0 answer"},
			{Op: opCandidate, Call: "call1", Peer: "conn1", Candidate: testCandidate},
			{Op: opPublish, Call: "call1", Peer: "conn1", Source: "screen"},
			{Op: opStats, Call: "call1"},
			{Op: opLeave, Call: "call1", Peer: "conn1"},
			{Op: opEnd, Call: "call1"},
		}
		if got := e.recorded(); !slices.Equal(got, want) {
			t.Errorf("engine calls:\ngot  %+v\nwant %+v", got, want)
		}

		// Stats of a call with nobody in it is an empty list, not an error.
		e.mu.Lock()
		e.stats = nil
		e.mu.Unlock()
		parts, err = c.Stats(ctx, "n1", "call2")
		if err != nil || len(parts) != 0 {
			t.Errorf("Stats of an empty call: got %v, %v; want [], nil", parts, err)
		}
	})
}

func TestErrorCodesMapAcross(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		e := newEngine()
		startServer(t, b, "n1", e)
		c := startClient(t, b, ClientOptions{})
		ctx := ctxT(t)

		tests := []struct {
			name     string
			err      error
			run      func() error
			wantCode chat.Code
			wantMsg  string
		}{
			{"not found", fmt.Errorf("sfu: answer: peer conn9: %w", errNotFound),
				func() error { return c.Answer(ctx, "n1", "c", "conn9", "v=0") }, chat.CodeNotFound, "sfu: answer: peer conn9: sfu: not found"},
			{"bad request", fmt.Errorf("sfu: answer: broken SDP: %w", errBadRequest),
				func() error { return c.Answer(ctx, "n1", "c", "p", "garbage") }, chat.CodeBadRequest, "sfu: answer: broken SDP: sfu: bad request"},
			{"conflict", fmt.Errorf("sfu: join: %w", errConflict),
				func() error { return c.Join(ctx, "n1", "c", "p", "u", "audio") }, chat.CodeConflict, "sfu: join: sfu: conflict"},
			{"too large", fmt.Errorf("sfu: publish: %w", errTooMany),
				func() error { return c.Publish(ctx, "n1", "c", "p", "screen") }, chat.CodeTooLarge, "sfu: publish: sfu: too many tracks"},
			{"chat error keeps its code", chat.Errorf(chat.CodeForbidden, "not your peer"),
				func() error { return c.Leave(ctx, "n1", "c", "p") }, chat.CodeForbidden, "not your peer"},
			{"unknown is internal, text withheld", errors.New("pion: ice agent exploded"),
				func() error { return c.End(ctx, "n1", "c") }, chat.CodeInternal, "internal error"},
			{"stats not found", errNotFound,
				func() error { _, err := c.Stats(ctx, "n1", "c"); return err }, chat.CodeNotFound, "sfu: not found"},
		}
		ops := []string{opAnswer, opAnswer, opJoin, opPublish, opLeave, opEnd, opStats}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.setErr(ops[i], tt.err)
				defer e.setErr(ops[i], nil)
				err := tt.run()
				var ce *chat.Error
				if !errors.As(err, &ce) {
					t.Fatalf("got %T %v, want *chat.Error", err, err)
				}
				if ce.Code != tt.wantCode || ce.Message != tt.wantMsg {
					t.Errorf("got %s %q, want %s %q", ce.Code, ce.Message, tt.wantCode, tt.wantMsg)
				}
			})
		}
	})
}

func TestBadRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		e := newEngine()
		startServer(t, b, "n1", e)
		ctx := ctxT(t)
		tests := []struct{ name, body, wantMsg string }{
			{"not json", `{"op":`, "request is not JSON"},
			{"no op", `{"call":"c","peer":"p"}`, "op is missing"},
			{"unknown op", `{"op":"explode","call":"c","peer":"p"}`, `unknown op "explode"`},
			{"no call", `{"op":"leave","peer":"p"}`, `leave: call id "" is missing or not token-safe`},
			{"call not a token", `{"op":"end","call":"a.b"}`, `end: call id "a.b" is missing or not token-safe`},
			{"no peer", `{"op":"answer","call":"c","sdp":"v=0"}`, `answer: peer id "" is missing or not token-safe`},
			{"peer wildcard", `{"op":"leave","call":"c","peer":"*"}`, `leave: peer id "*" is missing or not token-safe`},
			{"peer with space", `{"op":"leave","call":"c","peer":"a b"}`, `leave: peer id "a b" is missing or not token-safe`},
			{"join no user", `{"op":"join","call":"c","peer":"p","kind":"video"}`, "join: user is missing"},
			{"join bad kind", `{"op":"join","call":"c","peer":"p","user":"u","kind":"hologram"}`, `join: kind must be video or audio (got "hologram")`},
			{"answer no sdp", `{"op":"answer","call":"c","peer":"p"}`, "answer: sdp is missing"},
			{"candidate missing", `{"op":"candidate","call":"c","peer":"p"}`, "candidate: candidate is missing"},
			{"candidate null", `{"op":"candidate","call":"c","peer":"p","candidate":null}`, "candidate: candidate is missing"},
			{"publish no source", `{"op":"publish","call":"c","peer":"p"}`, "publish: source is missing"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				out, err := b.Request(ctx, b.SFUNode("n1"), []byte(tt.body))
				if err != nil {
					t.Fatalf("Request: %v", err)
				}
				var r reply
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatalf("reply %s: %v", out, err)
				}
				if r.OK || r.Error == nil || r.Error.Code != chat.CodeBadRequest || !strings.HasPrefix(r.Error.Message, tt.wantMsg) {
					t.Errorf("got %s, want bad_request %q", out, tt.wantMsg)
				}
			})
		}
		if got := e.recorded(); len(got) != 0 {
			t.Errorf("engine saw bad requests: %+v", got)
		}

		// The client refuses a node id that cannot be a subject token.
		c := startClient(t, b, ClientOptions{})
		var ce *chat.Error
		if err := c.End(ctx, "n.1", "c"); !errors.As(err, &ce) || ce.Code != chat.CodeBadRequest {
			t.Errorf("End on node n.1: got %v, want bad_request", err)
		}
	})
}

func TestUnreachableIsUnavailable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		e := newEngine()
		startServer(t, b, "n1", e)
		c := startClient(t, b, ClientOptions{RequestTimeout: 100 * time.Millisecond})
		ctx := ctxT(t)

		// A node that does not answer in time.
		err := c.Answer(ctx, "n1", "c", "p", "block")
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Code != chat.CodeUnavailable {
			t.Fatalf("timed-out Answer: got %v, want unavailable", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("timed-out Answer: got %v, want it to wrap context.DeadlineExceeded", err)
		}
		<-e.blocked // it did reach the engine

		// A node nobody serves.
		err = c.Leave(ctx, "ghost", "c", "p")
		if !errors.As(err, &ce) || ce.Code != chat.CodeUnavailable {
			t.Fatalf("Leave on a missing node: got %v, want unavailable", err)
		}

		// A caller that gives up.
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if err := c.End(cancelled, "n1", "c"); !errors.As(err, &ce) || ce.Code != chat.CodeUnavailable || !errors.Is(err, context.Canceled) {
			t.Errorf("End with a cancelled ctx: got %v, want unavailable wrapping context.Canceled", err)
		}
		// Cleanup closes the server while the blocked Answer still runs:
		// Close cancels it and waits, and goleak checks nothing is left.
	})
}

func TestServerClosingRefuses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		s := startServer(t, b, "n1", newEngine())
		c := startClient(t, b, ClientOptions{})
		s.Close()
		s.Close() // idempotent
		var ce *chat.Error
		if err := c.End(ctxT(t), "n1", "c"); !errors.As(err, &ce) || ce.Code != chat.CodeUnavailable {
			t.Errorf("End after Close: got %v, want unavailable", err)
		}
	})
}

func TestPlacementPicksLeastLoaded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		c := startClient(t, b, ClientOptions{})
		ctx := ctxT(t)

		var ce *chat.Error
		if _, err := c.Place(ctx); !errors.As(err, &ce) || ce.Code != chat.CodeUnavailable || ce.Message == "" {
			t.Fatalf("Place with no nodes: got %v, want unavailable with a message", err)
		}

		engines := map[string]*engine{"n-a": newEngine(), "n-b": newEngine(), "n-c": newEngine()}
		engines["n-a"].setLoad(Load{Calls: 1, Peers: 5})
		engines["n-b"].setLoad(Load{Calls: 2, Peers: 2})
		engines["n-c"].setLoad(Load{Calls: 1, Peers: 2, Tracks: 7, Subscriptions: 3})
		for node, e := range engines {
			startServer(t, b, node, e)
		}
		eventually(t, "three nodes with their loads", func() bool {
			n := c.Nodes()
			return len(n) == 3 && n[2].Node == "n-c" && n[2].Load == Load{Calls: 1, Peers: 2, Tracks: 7, Subscriptions: 3} &&
				n[0].Load.Peers == 5 && n[1].Load.Calls == 2
		})

		steps := []struct {
			name   string
			change func()
			want   string
		}{
			{"fewest peers, then fewest calls", func() {}, "n-c"},
			{"fewest peers wins over calls", func() { engines["n-c"].setLoad(Load{Calls: 0, Peers: 3}) }, "n-b"},
			{"a full tie goes to the smallest id", func() {
				for _, e := range engines {
					e.setLoad(Load{Calls: 4, Peers: 4})
				}
			}, "n-a"},
		}
		for _, st := range steps {
			st.change()
			eventually(t, st.name+": Place = "+st.want, func() bool {
				got, err := c.Place(ctx)
				return err == nil && got == st.want
			})
		}
	})
}

// A node that stopped beating is not given new calls even before it is
// reported lost: a call placed on a dead node would end moments later.
func TestPlacementSkipsASilentNode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		const lostAfter = 4 * time.Second
		c := startClient(t, b, ClientOptions{LostAfter: lostAfter})
		ctx := ctxT(t)
		data, _ := json.Marshal(beat{Node: "quiet", Load: &Load{}})
		if err := b.Publish(ctx, b.SFUBeats(), data); err != nil {
			t.Fatal(err)
		}
		eventually(t, "quiet placed on", func() bool { got, err := c.Place(ctx); return err == nil && got == "quiet" })
		start := time.Now()
		eventually(t, "quiet no longer placed on", func() bool {
			_, err := c.Place(ctx)
			var ce *chat.Error
			return errors.As(err, &ce) && ce.Code == chat.CodeUnavailable
		})
		if took := time.Since(start); took < lostAfter/2-time.Second || !live(c, "quiet") {
			t.Fatalf("refused after %v, still live %v; want refused after about %v, while not yet lost", took, live(c, "quiet"), lostAfter/2)
		}
	})
}

func TestHelloAnnouncesAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		// A beat interval far longer than the test: only the answer to
		// the new client's hello can make the node known.
		s, err := NewServer(b, "n1", newEngine(), ServerOptions{Log: quiet(), BeatInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		c := startClient(t, b, ClientOptions{LostAfter: 2 * time.Hour})
		eventually(t, "node known from the hello", func() bool { return len(c.Nodes()) == 1 })
		if got, err := c.Place(ctxT(t)); err != nil || got != "n1" {
			t.Errorf("Place: got %q, %v; want n1", got, err)
		}
	})
}

func TestEmbeddedPlacesLocally(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		c := startClient(t, b, ClientOptions{Embedded: "local"})
		ctx := ctxT(t)
		if got, err := c.Place(ctx); err != nil || got != "local" {
			t.Fatalf("Place before any beat: got %q, %v; want local", got, err)
		}
		idle := newEngine()
		busy := newEngine()
		busy.setLoad(Load{Calls: 50, Peers: 500})
		startServer(t, b, "idle", idle)
		startServer(t, b, "local", busy)
		eventually(t, "both nodes live", func() bool { return len(c.Nodes()) == 2 })
		if got, err := c.Place(ctx); err != nil || got != "local" {
			t.Errorf("Place with a less loaded node live: got %q, %v; want local", got, err)
		}
	})
}

// lostLog records OnNodeLost calls.
type lostLog struct {
	mu    sync.Mutex
	nodes []string
}

func (l *lostLog) add(n string) {
	l.mu.Lock()
	l.nodes = append(l.nodes, n)
	l.mu.Unlock()
}

func (l *lostLog) count(n string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := 0
	for _, x := range l.nodes {
		if x == n {
			k++
		}
	}
	return k
}

func live(c *Client, node string) bool {
	return slices.ContainsFunc(c.Nodes(), func(n NodeInfo) bool { return n.Node == node })
}

func TestNodeLost(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		var lost lostLog
		c := startClient(t, b, ClientOptions{OnNodeLost: lost.add})
		ctx := ctxT(t)

		t.Run("bye is reported at once", func(t *testing.T) {
			// A beat interval far longer than LostAfter would make the
			// node look lost between beats; here only the bye can tell.
			s, err := NewServer(b, "leaving", newEngine(), ServerOptions{Log: quiet(), BeatInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			var byes lostLog
			slow := startClient(t, b, ClientOptions{LostAfter: 2 * time.Hour, OnNodeLost: byes.add})
			eventually(t, "node live", func() bool { return live(slow, "leaving") })
			s.Close()
			eventually(t, "bye reported", func() bool { return byes.count("leaving") == 1 && !live(slow, "leaving") })
		})

		t.Run("silence is reported once; a beat revives", func(t *testing.T) {
			before := lost.count("ghost")
			beatOnce := func() {
				data, _ := json.Marshal(beat{Node: "ghost", Load: &Load{Peers: 1}})
				if err := b.Publish(ctx, b.SFUBeats(), data); err != nil {
					t.Fatal(err)
				}
			}
			beatOnce()
			eventually(t, "ghost live", func() bool { return live(c, "ghost") })
			eventually(t, "ghost lost", func() bool { return lost.count("ghost") == before+1 })
			if live(c, "ghost") {
				t.Error("a lost node is still listed")
			}
			// Many more watch ticks pass; the loss is not reported again.
			time.Sleep(3 * testLostAfter)
			if got := lost.count("ghost"); got != before+1 {
				t.Errorf("ghost reported lost %d times, want %d", got, before+1)
			}
			beatOnce()
			eventually(t, "ghost live again", func() bool { return live(c, "ghost") })
			eventually(t, "ghost lost again", func() bool { return lost.count("ghost") == before+2 })
		})

		t.Run("a server whose bus dies is lost", func(t *testing.T) {
			if be.url == "" {
				t.Skip("the embedded bus is shared: it cannot die alone")
			}
			own := openBus(t, be, b.Prefix())
			s := startServer(t, own, "dying", newEngine())
			eventually(t, "dying live", func() bool { return live(c, "dying") })
			own.Close() // no bye can get out now
			eventually(t, "dying lost", func() bool { return lost.count("dying") == 1 })
			s.Close() // its bye fails; nothing more is reported
			time.Sleep(3 * testLostAfter)
			if got := lost.count("dying"); got != 1 {
				t.Errorf("dying reported lost %d times, want 1", got)
			}
		})
	})
}

func TestRequestsOfOnePeerKeepTheirOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, uniquePrefix(t))
		e := newEngine()
		e.jitter = true
		startServer(t, b, "n1", e)
		ctx := ctxT(t)
		// Fire-and-forget publishes from one goroutine reach the node in
		// this order; two peers interleaved may run side by side, but each
		// peer's candidates must reach the engine in the order sent.
		const n = 40
		for i := range n {
			for _, peer := range []string{"p1", "p2"} {
				data, _ := json.Marshal(request{Op: opCandidate, Call: "c", Peer: peer, Candidate: json.RawMessage(fmt.Sprint(i))})
				if err := b.Publish(ctx, b.SFUNode("n1"), data); err != nil {
					t.Fatal(err)
				}
			}
		}
		eventually(t, "every candidate handled", func() bool { return len(e.recorded()) == 2*n })
		seen := map[string][]string{}
		for _, c := range e.recorded() {
			seen[c.Peer] = append(seen[c.Peer], c.Candidate)
		}
		for _, peer := range []string{"p1", "p2"} {
			for i, got := range seen[peer] {
				if want := fmt.Sprint(i); got != want {
					t.Fatalf("%s: candidate %d: got %s, want %s (order %v)", peer, i, got, want, seen[peer])
				}
			}
		}
	})
}
