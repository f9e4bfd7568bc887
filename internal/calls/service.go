package calls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Defaults for Options.
const (
	DefaultMaxParticipants = 16
	DefaultRingTimeout     = 30 * time.Second
	DefaultSweepInterval   = time.Second
	DefaultTURNTTL         = 12 * time.Hour
)

// maxAttempts bounds how often a change is redone after another hub
// changed the call first. Each retry means someone else made progress, so
// running out takes a storm of concurrent changes to one call.
const maxAttempts = 16

// ICEConfig lists the STUN and TURN servers handed to clients in
// call_join. TURN credentials follow coturn's REST-API scheme (its
// use-auth-secret / static-auth-secret).
type ICEConfig struct {
	STUNURLs   []string
	TURNURLs   []string
	TURNSecret string
	TURNTTL    time.Duration // how long a TURN credential lasts; default DefaultTURNTTL
}

// Options configures a Service.
type Options struct {
	HubNode         string        // this hub's node ID, recorded with each participant; required
	MaxParticipants int           // per call; default DefaultMaxParticipants
	RingTimeout     time.Duration // default DefaultRingTimeout
	SweepInterval   time.Duration // how often Run looks for timed-out calls; default DefaultSweepInterval
	ICE             ICEConfig
	Clock           func() time.Time // default chat.Now
	Log             *slog.Logger
}

// Deps are what the service consumes. Inspector may be nil (Inspect then
// reports participants without tracks); the rest are required.
type Deps struct {
	Store     Store
	SFU       SFU
	Inspector Inspector
	Rooms     Rooms
	Users     Users
	Bus       Bus
	Limiter   Limiter // optional: without it, call commands are not rate limited
}

// local is one connection of this hub taking part in a call.
type local struct {
	conn Conn
	call string
	room string
	node string // the call's SFU node
	sub  Subscription
	gen  uint64 // when it was added, in mu's order (see sweep)
	// joined is this participation's CallMember.JoinedAt: it tells it
	// from a later one of the same connection.
	joined time.Time
}

// Service runs the call state machine for one hub. Call state lives in the
// store, so any hub may change any call; this hub remembers only its own
// connections' participation (the RTC subscriptions).
type Service struct {
	o       Options
	store   Store
	sfu     SFU
	insp    Inspector
	rooms   Rooms
	users   Users
	bus     Bus
	limiter Limiter
	log     *slog.Logger

	mu     sync.Mutex        // guards conns, gen, closed
	conns  map[string]*local // by connection ID
	gen    uint64
	closed bool

	stop chan struct{}
	wg   sync.WaitGroup // Run
}

// New returns a service; Run sweeps for timed-out calls, Close stops it.
func New(o Options, d Deps) (*Service, error) {
	if o.HubNode == "" {
		return nil, errors.New("calls: new: HubNode is required")
	}
	if d.Store == nil || d.SFU == nil || d.Rooms == nil || d.Users == nil || d.Bus == nil {
		return nil, errors.New("calls: new: Store, SFU, Rooms, Users and Bus are required")
	}
	if o.MaxParticipants <= 0 {
		o.MaxParticipants = DefaultMaxParticipants
	}
	if o.RingTimeout <= 0 {
		o.RingTimeout = DefaultRingTimeout
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.ICE.TURNTTL <= 0 {
		o.ICE.TURNTTL = DefaultTURNTTL
	}
	if o.Clock == nil {
		o.Clock = chat.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		o: o, store: d.Store, sfu: d.SFU, insp: d.Inspector, rooms: d.Rooms, users: d.Users, bus: d.Bus, limiter: d.Limiter,
		log:   log,
		conns: make(map[string]*local),
		stop:  make(chan struct{}),
	}, nil
}

// Run ends unanswered calls once their ring timeout passes, every
// SweepInterval, until ctx ends or Close is called. Every hub runs it; the
// optimistic version lets exactly one of them end each call.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	t := time.NewTicker(s.o.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stop:
			return nil
		case <-t.C:
			s.sweep(ctx)
		}
	}
}

// Close stops Run and drops this hub's RTC subscriptions. The calls
// themselves stay in the store: other hubs end them through HubLost.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	conns := s.conns
	s.conns = make(map[string]*local)
	s.mu.Unlock()
	s.wg.Wait()
	for _, l := range conns {
		s.unsubscribe(l)
	}
}

func (s *Service) now() time.Time { return s.o.Clock().UTC().Truncate(time.Microsecond) }

// mutate applies change to the stored call, re-reading and redoing it when
// another hub changed the call in between. change edits a copy and reports
// whether there is anything to store; it may return a *chat.Error to
// refuse. changed is true only when this call's update won, so only then
// does the caller publish.
func (s *Service) mutate(ctx context.Context, callID string, change func(c *chat.CallRecord) (bool, error)) (before, after chat.CallRecord, changed bool, err error) {
	for attempt := 1; ; attempt++ {
		cur, err := s.store.CallByID(ctx, callID)
		if errors.Is(err, chat.ErrNotFound) {
			return cur, cur, false, chat.Errorf(chat.CodeNotFound, "no call %s", callID)
		}
		if err != nil {
			return cur, cur, false, storeErr("read call", err)
		}
		next := clone(cur)
		ok, err := change(&next)
		if err != nil || !ok {
			return cur, cur, false, err
		}
		stored, err := s.store.UpdateCall(ctx, next, cur.Version)
		switch {
		case err == nil:
			return cur, stored, true, nil
		case errors.Is(err, chat.ErrCallChanged) && attempt < maxAttempts:
			continue
		case errors.Is(err, chat.ErrCallChanged):
			return cur, cur, false, chat.Wrap(chat.CodeUnavailable, err, "the call is changing too fast; retry")
		default:
			return cur, cur, false, storeErr("update call", err)
		}
	}
}

func clone(c chat.CallRecord) chat.CallRecord {
	c.Invited = slices.Clone(c.Invited)
	c.Participants = slices.Clone(c.Participants)
	return c
}

// end marks c ended now for reason; an ended call has no participants.
func (s *Service) end(c *chat.CallRecord, reason string) {
	c.State = chat.CallEnded
	c.EndedAt = s.now()
	c.EndedReason = reason
	c.RingUntil = time.Time{}
	c.Participants = []chat.CallMember{}
}

// direct reports whether c is a one-on-one call: only those ring someone.
func direct(c chat.CallRecord) bool { return len(c.Invited) > 0 }

func hasConn(c chat.CallRecord, connID string) bool {
	return slices.ContainsFunc(c.Participants, func(m chat.CallMember) bool { return m.Conn == connID })
}

// settle carries out on the SFU and locally what a won change from before
// to after means: the removed peers leave (or the whole call ends) and
// this hub's subscriptions for them go. Failures are logged: the stored
// state is the truth and the SFU drops peers whose media stops anyway.
func (s *Service) settle(ctx context.Context, before, after chat.CallRecord) {
	var removed []string
	for _, m := range before.Participants {
		if !hasConn(after, m.Conn) {
			removed = append(removed, m.Conn)
		}
	}
	switch {
	case !after.Live() && after.EndedReason != chat.CallEndSFULost:
		if err := s.sfu.End(ctx, after.SFUNode, after.ID); err != nil {
			s.log.WarnContext(ctx, "calls: end call on the SFU", "call", after.ID, "node", after.SFUNode, "err", err)
		}
	case after.Live():
		for _, peer := range removed {
			if err := s.sfu.Leave(ctx, after.SFUNode, after.ID, peer); err != nil && chat.AsError(err).Code != chat.CodeNotFound {
				s.log.WarnContext(ctx, "calls: leave the SFU", "call", after.ID, "peer", peer, "err", err)
			}
		}
	}
	for _, peer := range removed {
		s.dropLocal(peer, after.ID)
	}
}

// publish tells the room the call's new state, encoded once.
func (s *Service) publish(ctx context.Context, c chat.CallRecord) {
	frame, err := json.Marshal(chat.CallStateEvent{Type: chat.EventCallState, Room: c.Room, Call: c.Call()})
	if err != nil {
		s.log.ErrorContext(ctx, "calls: encode call_state", "call", c.ID, "err", err)
		return
	}
	if err := s.rooms.Broadcast(ctx, c.Room, frame); err != nil {
		s.log.WarnContext(ctx, "calls: broadcast call_state", "call", c.ID, "room", c.Room, "err", err)
	}
}

// commit is mutate followed, when the change won, by settle and publish.
func (s *Service) commit(ctx context.Context, callID string, change func(c *chat.CallRecord) (bool, error)) (chat.CallRecord, error) {
	gen := s.currentGen()
	before, after, changed, err := s.mutate(ctx, callID, change)
	if err != nil {
		return after, err
	}
	if !changed {
		// Another hub made the change (both heard of a lost node, say):
		// it told the SFU and the room, but only this hub holds its own
		// connections' subscriptions.
		s.forgetGone(after, gen)
		return after, nil
	}
	s.settle(ctx, before, after)
	s.publish(ctx, after)
	return after, nil
}

// currentGen is the generation of the latest addLocal.
func (s *Service) currentGen() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// forgetGone drops this hub's connections that c no longer holds. Only
// entries added up to gen count: c was read after their store change was
// committed, so it reflects them; a later join may not be in c yet.
func (s *Service) forgetGone(c chat.CallRecord, gen uint64) {
	if c.ID == "" {
		return
	}
	var gone []*local
	s.mu.Lock()
	for id, l := range s.conns {
		if l.gen <= gen && l.call == c.ID && (!c.Live() || !hasConn(c, id)) {
			delete(s.conns, id)
			gone = append(gone, l)
		}
	}
	s.mu.Unlock()
	for _, l := range gone {
		s.unsubscribe(l)
	}
}

// addLocal records c's participation in call and its subscription.
func (s *Service) addLocal(l *local) {
	s.mu.Lock()
	s.gen++
	l.gen = s.gen
	old := s.conns[l.conn.ID()]
	s.conns[l.conn.ID()] = l
	s.mu.Unlock()
	if old != nil {
		s.unsubscribe(old)
	}
}

// localOf returns connID's participation on this hub, or nil.
func (s *Service) localOf(connID string) *local {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[connID]
}

// dropLocal forgets connID's participation if it is in call ("" = any).
func (s *Service) dropLocal(connID, call string) {
	s.mu.Lock()
	l := s.conns[connID]
	if l == nil || (call != "" && l.call != call) {
		s.mu.Unlock()
		return
	}
	delete(s.conns, connID)
	s.mu.Unlock()
	s.unsubscribe(l)
}

func (s *Service) unsubscribe(l *local) {
	if l.sub == nil {
		return
	}
	if err := l.sub.Unsubscribe(); err != nil {
		s.log.Warn("calls: unsubscribe rtc frames", "conn", l.conn.ID(), "err", err)
	}
}

// storeErr maps a store failure to the client's error: unavailable when
// the store cannot be reached, internal otherwise (details in the cause).
func storeErr(op string, err error) *chat.Error {
	return chat.AsError(fmt.Errorf("calls: %s: %w", op, err))
}

// sfuErr keeps the SFU client's *chat.Error and calls anything else an
// unreachable SFU.
// Rate limits of the commands that create state and fan out to a room:
// a call row and a call_state to every member for each start, an SFU peer
// and a renegotiation for every other participant for each join.
const (
	startLimit  = 10
	startWindow = time.Minute
	joinLimit   = 30
	joinWindow  = time.Minute
)

// allow applies a per-user rate limit. A limiter that cannot answer lets
// the command through, as for chat: its outage must not stop calls.
func (s *Service) allow(ctx context.Context, key string, limit int, window time.Duration) error {
	if s.limiter == nil {
		return nil
	}
	ok, retry, err := s.limiter.Allow(ctx, key, limit, window)
	if err != nil {
		s.log.WarnContext(ctx, "calls: rate limiter unavailable; allowing", "key", key, "err", err)
		return nil
	}
	if !ok {
		return chat.RateLimited(retry)
	}
	return nil
}

func sfuErr(op string, err error) *chat.Error {
	var ce *chat.Error
	if errors.As(err, &ce) {
		return ce
	}
	return chat.Wrap(chat.CodeUnavailable, fmt.Errorf("calls: %s: %w", op, err), "the SFU is unavailable; retry later")
}
