package sfurpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/chat"
)

// Defaults for zero ServerOptions fields.
const (
	DefaultBeatInterval  = 2 * time.Second
	DefaultHandleTimeout = 10 * time.Second
)

// requestQueue is the NATS queue group of a node's request subscription.
// Only the node itself subscribes to its subject; the queue form is used
// because it hands over a reply function that may be called later, from a
// worker, so the subscription goroutine never waits on the engine.
const requestQueue = "sfu"

// ServerOptions configure a Server.
type ServerOptions struct {
	Log *slog.Logger
	// BeatInterval is the period of the node's beats; default
	// DefaultBeatInterval. Clients count a node lost after LostAfter
	// (3 beats by default) without one.
	BeatInterval time.Duration
	// HandleTimeout bounds one engine call; default DefaultHandleTimeout.
	HandleTimeout time.Duration
	// Classify maps an engine error to the protocol code sent back (the
	// lead maps sfu.ErrNotFound → chat.CodeNotFound, …). An empty result,
	// or a nil Classify, falls back to chat.AsError: a *chat.Error keeps its
	// code, anything unknown is internal.
	Classify func(error) chat.Code
}

// Server serves one SFU node's engine over the bus: requests on
// bus.SFUNode(node), signals to bus.ConnRTC(peer), beats on bus.SFUBeats().
type Server struct {
	b    *bus.Bus
	node string
	sfu  SFU
	o    ServerOptions
	log  *slog.Logger

	base   context.Context // parent of every engine call; cancelled by Close
	cancel context.CancelFunc

	mu     sync.Mutex          // guards closed, lanes and wg.Add
	closed bool                // no new work once set
	lanes  map[string][]func() // peer → its queued requests; present while a drainer runs
	wg     sync.WaitGroup      // drainers, one-off handlers and the beat loop

	subs []*bus.Subscription
	stop chan struct{} // closed by Close: the beat loop exits
	// hello asks the beat loop for a beat now (a client said hello). The
	// subscription goroutine must not build it: Load takes every call's
	// lock, which negotiation may hold for a while.
	hello chan struct{}
	once  sync.Once
}

// NewServer subscribes to the node's requests and to hellos, announces the
// node at once, and beats every BeatInterval until Close.
func NewServer(b *bus.Bus, node string, e SFU, o ServerOptions) (*Server, error) {
	if !bus.ValidToken(node) {
		return nil, fmt.Errorf("sfurpc: new server: node id %q: %w", node, bus.ErrBadSubject)
	}
	if e == nil {
		return nil, errors.New("sfurpc: new server: no engine")
	}
	if o.BeatInterval <= 0 {
		o.BeatInterval = DefaultBeatInterval
	}
	if o.HandleTimeout <= 0 {
		o.HandleTimeout = DefaultHandleTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		b: b, node: node, sfu: e, o: o,
		log:   o.Log.With("component", "sfurpc", "sfu_node", node),
		lanes: make(map[string][]func()),
		hello: make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	reqs, err := b.QueueSubscribe(b.SFUNode(node), requestQueue, s.onRequest)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("sfurpc: new server: %w", err)
	}
	s.subs = append(s.subs, reqs)
	hellos, err := b.Subscribe(b.SFUBeats(), s.onBeat)
	if err != nil {
		s.unsubscribe()
		s.cancel()
		return nil, fmt.Errorf("sfurpc: new server: %w", err)
	}
	s.subs = append(s.subs, hellos)
	s.announce(false)
	s.wg.Add(1)
	go s.beat()
	return s, nil
}

// Close stops taking requests, waits for those in flight (their engine
// calls see a cancelled context), then says bye so clients forget the node
// at once. It does not close the engine. It is safe to call more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		s.unsubscribe()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		s.cancel()
		s.wg.Wait()
		s.announce(true)
	})
}

func (s *Server) unsubscribe() {
	for _, sub := range s.subs {
		if err := sub.Unsubscribe(); err != nil {
			s.log.Debug("sfurpc: unsubscribe", "err", err)
		}
	}
	s.subs = nil
}

func (s *Server) beat() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.BeatInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.announce(false)
		case <-s.hello:
			s.announce(false)
		}
	}
}

// announce publishes the node's beat (or its bye). A failed publish is
// only logged: the next beat tries again, and meanwhile clients may count
// the node lost, which it is to them.
func (s *Server) announce(bye bool) {
	load := s.sfu.Load()
	data, _ := json.Marshal(beat{Node: s.node, Load: &load, Bye: bye})
	ctx, cancel := context.WithTimeout(context.Background(), s.o.BeatInterval)
	defer cancel()
	if err := s.b.Publish(ctx, s.b.SFUBeats(), data); err != nil {
		s.log.Debug("sfurpc: beat", "bye", bye, "err", err)
	}
}

// onBeat answers a client's hello with a beat, so a hub that just started
// can place calls without waiting a whole BeatInterval.
func (s *Server) onBeat(data []byte) {
	var m beat
	if json.Unmarshal(data, &m) != nil || !m.Hello {
		return
	}
	select {
	case s.hello <- struct{}{}:
	default: // a beat is on its way already
	}
}

func (s *Server) onRequest(_ string, data []byte, respond func([]byte) error) {
	send := func(r reply) {
		out, err := json.Marshal(r)
		if err != nil {
			s.log.Error("sfurpc: encode reply", "err", err)
			out, _ = json.Marshal(failure(chat.CodeInternal, "internal error"))
		}
		if err := respond(out); err != nil {
			s.log.Debug("sfurpc: reply", "err", err)
		}
	}
	var req request
	if err := json.Unmarshal(data, &req); err != nil {
		send(failure(chat.CodeBadRequest, "request is not JSON: "+err.Error()))
		return
	}
	if err := validate(req); err != nil {
		send(failure(chat.CodeBadRequest, err.Error()))
		return
	}
	lane := req.Peer // requests of one peer keep their order; see doc.go
	if req.Op == opEnd || req.Op == opStats {
		lane = ""
	}
	if !s.dispatch(lane, func() { send(s.handle(req)) }) {
		send(failure(chat.CodeUnavailable, "sfu node "+s.node+" is shutting down or overloaded"))
	}
}

// maxLane bounds the requests queued for one peer. The hub sends one peer's
// commands one at a time, so only requests it gave up on (timed out) pile
// up behind a slow one.
const maxLane = 64

// dispatch runs job off the subscription goroutine: after the jobs queued
// before it on the same lane, or at once on its own goroutine when lane is
// "". It reports false when the server is closing or the lane is full.
func (s *Server) dispatch(lane string, job func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if lane == "" {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			job()
		}()
		return true
	}
	q, running := s.lanes[lane]
	if len(q) >= maxLane {
		return false
	}
	s.lanes[lane] = append(q, job)
	if !running {
		s.wg.Add(1)
		go s.drain(lane)
	}
	return true
}

// drain runs a lane's jobs in order until it is empty, then retires it.
func (s *Server) drain(lane string) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		q := s.lanes[lane]
		if len(q) == 0 {
			delete(s.lanes, lane)
			s.mu.Unlock()
			return
		}
		job := q[0]
		q[0] = nil
		s.lanes[lane] = q[1:]
		s.mu.Unlock()
		job()
	}
}

// validate rejects what no engine could act on. IDs become subject tokens
// (the peer's signals go to bus.ConnRTC(peer)), so they must be token-safe.
func validate(r request) error {
	switch r.Op {
	case opJoin, opAnswer, opCandidate, opPublish, opLeave, opEnd, opStats:
	case "":
		return errors.New("op is missing")
	default:
		return fmt.Errorf("unknown op %q", r.Op)
	}
	if !bus.ValidToken(r.Call) {
		return fmt.Errorf("%s: call id %q is missing or not token-safe", r.Op, r.Call)
	}
	if r.Op == opEnd || r.Op == opStats {
		return nil
	}
	if !bus.ValidToken(r.Peer) {
		return fmt.Errorf("%s: peer id %q is missing or not token-safe", r.Op, r.Peer)
	}
	switch r.Op {
	case opJoin:
		if r.User == "" {
			return errors.New("join: user is missing")
		}
		if r.Kind != KindVideo && r.Kind != KindAudio {
			return fmt.Errorf("join: kind must be video or audio (got %q)", r.Kind)
		}
	case opAnswer:
		if r.SDP == "" {
			return errors.New("answer: sdp is missing")
		}
	case opCandidate:
		if len(r.Candidate) == 0 || string(r.Candidate) == "null" {
			return errors.New("candidate: candidate is missing")
		}
	case opPublish:
		if r.Source == "" {
			return errors.New("publish: source is missing")
		}
	}
	return nil
}

// handle runs one validated request against the engine.
func (s *Server) handle(r request) reply {
	ctx, cancel := context.WithTimeout(s.base, s.o.HandleTimeout)
	defer cancel()
	var (
		err   error
		parts []chat.CallParticipant
	)
	switch r.Op {
	case opJoin:
		err = s.sfu.Join(ctx, r.Call, r.Peer, r.User, r.Kind, s.signaler(r.Call, r.Peer))
	case opAnswer:
		err = s.sfu.Answer(ctx, r.Call, r.Peer, r.SDP)
	case opCandidate:
		err = s.sfu.Candidate(ctx, r.Call, r.Peer, r.Candidate)
	case opPublish:
		err = s.sfu.Publish(ctx, r.Call, r.Peer, r.Source)
	case opLeave:
		err = s.sfu.Leave(ctx, r.Call, r.Peer)
	case opEnd:
		err = s.sfu.End(ctx, r.Call)
	case opStats:
		parts, err = s.sfu.Stats(r.Call)
		if parts == nil {
			parts = []chat.CallParticipant{}
		}
	}
	if err != nil {
		return s.failed(r, err)
	}
	return reply{OK: true, Participants: parts}
}

// failed classifies an engine error. Internal errors are logged here and
// go back without their text, which is for operators, not clients.
func (s *Server) failed(r request, err error) reply {
	var code chat.Code
	if s.o.Classify != nil {
		code = s.o.Classify(err)
	}
	msg := err.Error()
	if ce := (*chat.Error)(nil); errors.As(err, &ce) {
		msg = ce.Message
		if code == "" {
			code = ce.Code
		}
	}
	if code == "" {
		code = chat.AsError(err).Code
	}
	if code == chat.CodeInternal {
		s.log.Error("sfurpc: engine failed", "op", r.Op, "call", r.Call, "peer", r.Peer, "err", err)
		msg = "internal error"
	} else {
		s.log.Debug("sfurpc: request refused", "op", r.Op, "call", r.Call, "peer", r.Peer, "code", code, "err", err)
	}
	return failure(code, msg)
}

func failure(code chat.Code, msg string) reply {
	return reply{Error: &wireError{Code: code, Message: msg}}
}

// signaler is the signal function handed to the engine for one peer: each
// signal becomes a client frame on bus.ConnRTC(peer), published at once so
// frames leave in the order the engine made them.
func (s *Server) signaler(call, peer string) func(Signal) {
	subject := s.b.ConnRTC(peer)
	return func(sig Signal) {
		var (
			data []byte
			err  error
		)
		switch sig.Type {
		case SignalOffer:
			data, err = json.Marshal(offerFrame{Type: FrameOffer, CallID: call, SDP: sig.SDP})
		case SignalCandidate:
			data, err = json.Marshal(candidateFrame{Type: FrameCandidate, CallID: call, Candidate: sig.Candidate})
		case SignalClosed:
			data, err = json.Marshal(closedFrame{Type: FrameClosed, CallID: call, Reason: ClosedReasonFailed})
		default:
			err = fmt.Errorf("unknown signal type %q", sig.Type)
		}
		if err != nil {
			s.log.Error("sfurpc: signal dropped", "call", call, "peer", peer, "err", err)
			return
		}
		// Publishing only hands the frame to the NATS client; it does not
		// wait for the network, so the engine is not held up here.
		if err := s.b.Publish(context.Background(), subject, data); err != nil {
			s.log.Warn("sfurpc: signal not sent", "call", call, "peer", peer, "type", sig.Type, "err", err)
		}
	}
}
