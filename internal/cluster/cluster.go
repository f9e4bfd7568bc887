package cluster

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

// Defaults for zero Options fields.
const (
	DefaultHeartbeat = 2 * time.Second
	DefaultTimeout   = time.Second
)

// Subscription is a live bus subscription.
type Subscription interface {
	Unsubscribe() error
}

// Bus is the part of the bus cluster uses: broadcasts for liveness and a
// scatter-gather for questions.
type Bus interface {
	// Connected reports whether the link to the bus is up: while it is
	// down, silence from the others says nothing about them.
	Connected() bool
	Publish(ctx context.Context, subject string, data []byte) error
	Subscribe(subject string, fn func(data []byte)) (Subscription, error)
	Respond(subject string, fn func(data []byte) []byte) (Subscription, error)
	Gather(ctx context.Context, subject string, data []byte, each func(reply []byte) (more bool)) error
}

// Subjects names the two subjects cluster uses.
type Subjects struct {
	Beats     string // liveness announcements
	Questions string // requests every node answers
}

// Conn is one of a node's connections in a room.
type Conn struct {
	ID    string    `json:"id"`
	User  chat.User `json:"user"`
	Since time.Time `json:"since"`
}

// Local is what this node holds in memory.
type Local interface {
	LocalRoom(roomID string) []Conn
	LocalRooms() map[string][]Conn
	Disconnect(connID string) bool
}

// Store is what cluster reads of the durable state.
type Store interface {
	Room(ctx context.Context, id string) (chat.Room, error)
	ActiveRooms(ctx context.Context, activeSince, countSince time.Time) ([]chat.RoomActivity, error)
	RoomActivity(ctx context.Context, roomID string, countSince time.Time) (chat.RoomActivity, error)
}

// Calls is what cluster reads of the rooms' calls. Call state is shared by
// every hub (it lives in the store), so the node asked answers alone.
type Calls interface {
	// Inspect is the room's live call with its participants' tracks as
	// the hosting SFU node reports them, or nil.
	Inspect(ctx context.Context, roomID string) (*chat.CallInfo, error)
	// Participants counts the participants of every live call by room.
	Participants(ctx context.Context) (map[string]int, error)
}

// Options configure a Service.
type Options struct {
	Node      string        // this node's ID; required
	Subjects  Subjects      // required
	Heartbeat time.Duration // default DefaultHeartbeat
	Timeout   time.Duration // how long a question waits for answers; default DefaultTimeout
	Logger    *slog.Logger
	Now       func() time.Time // clock for "the last minute"; default time.Now
	// OnNodeLost, if set, is called (on a goroutine of its own) with each
	// node that fell silent without saying goodbye: a crash or a
	// partition. Every surviving node calls it.
	OnNodeLost func(ctx context.Context, node string)
}

// Deps are the service's backends.
type Deps struct {
	Bus   Bus
	Local Local
	Store Store
	Calls Calls // optional: without it rooms show no call
}

// Service is one node's member of the cluster.
type Service struct {
	opts  Options
	bus   Bus
	local Local
	store Store
	calls Calls
	log   *slog.Logger

	mu    sync.Mutex           // guards nodes and grace
	nodes map[string]time.Time // other live nodes → when last heard
	// grace is when this node's own bus outage stops excusing the
	// others' silence: until then nobody is forgotten or reported lost.
	grace time.Time

	subs []Subscription
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// New joins the cluster: it subscribes, says hello and starts the heartbeat.
func New(ctx context.Context, opts Options, d Deps) (*Service, error) {
	if opts.Node == "" || opts.Subjects.Beats == "" || opts.Subjects.Questions == "" {
		return nil, errors.New("cluster: node and subjects are required")
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		opts: opts, bus: d.Bus, local: d.Local, store: d.Store, calls: d.Calls, log: log,
		nodes: make(map[string]time.Time), stop: make(chan struct{}),
	}
	beats, err := d.Bus.Subscribe(opts.Subjects.Beats, s.onBeat)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe to beats: %w", err)
	}
	s.subs = append(s.subs, beats)
	questions, err := d.Bus.Respond(opts.Subjects.Questions, s.answer)
	if err != nil {
		s.unsubscribe()
		return nil, fmt.Errorf("cluster: subscribe to questions: %w", err)
	}
	s.subs = append(s.subs, questions)
	s.announce(ctx, beatHello)
	s.wg.Add(1)
	go s.heartbeat()
	return s, nil
}

// Close says goodbye, so others stop expecting this node at once, and
// stops the heartbeat.
func (s *Service) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s.announce(ctx, beatBye)
		s.unsubscribe()
	})
}

func (s *Service) unsubscribe() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.subs = nil
}

// Beat states.
const (
	beatHello = "hello" // just started: everyone, announce yourselves
	beatAlive = "alive"
	beatBye   = "bye"
)

type beat struct {
	Node  string `json:"node"`
	State string `json:"state"`
}

func (s *Service) announce(ctx context.Context, state string) {
	b, _ := json.Marshal(beat{Node: s.opts.Node, State: state})
	if err := s.bus.Publish(ctx, s.opts.Subjects.Beats, b); err != nil {
		// The next heartbeat tries again; meanwhile others may list this
		// node as unreachable, which is what it is.
		s.log.DebugContext(ctx, "cluster: announce", "state", state, "err", err)
	}
}

func (s *Service) heartbeat() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.Heartbeat)
	defer t.Stop()
	down := false // the bus was down at the last tick
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if !s.bus.Connected() {
				down = true
				continue
			}
			if down {
				// Back on the bus: give the others a full silence period
				// to be heard again before anyone counts as lost.
				down = false
				s.mu.Lock()
				s.grace = time.Now().Add(s.silence())
				s.mu.Unlock()
			}
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.Heartbeat)
			s.announce(ctx, beatAlive)
			cancel()
			for _, n := range s.expire() {
				s.log.Warn("cluster: node lost: no heartbeat and no goodbye", "lost", n)
				if s.opts.OnNodeLost != nil {
					s.wg.Add(1)
					go s.nodeLost(n)
				}
			}
		}
	}
}

func (s *Service) onBeat(data []byte) {
	var b beat
	if err := json.Unmarshal(data, &b); err != nil || b.Node == "" {
		s.log.Warn("cluster: undecodable beat", "err", err)
		return
	}
	if b.Node == s.opts.Node {
		return
	}
	s.mu.Lock()
	if b.State == beatBye {
		delete(s.nodes, b.Node)
	} else {
		s.nodes[b.Node] = time.Now()
	}
	s.mu.Unlock()
	if b.State == beatHello {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Heartbeat)
		s.announce(ctx, beatAlive)
		cancel()
	}
}

// nodeLost runs OnNodeLost, bounded so that Close is never held up long.
func (s *Service) nodeLost(node string) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 10*s.opts.Heartbeat)
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	s.opts.OnNodeLost(ctx, node)
}

// silence is how long a node may go unheard before it counts as lost.
func (s *Service) silence() time.Duration { return 3 * s.opts.Heartbeat }

// expire forgets the nodes unheard for too long and returns them. Only the
// heartbeat calls it, so each lost node is reported once.
func (s *Service) expire() []string {
	now := time.Now()
	cutoff := now.Add(-s.silence())
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.grace) || !s.bus.Connected() {
		return nil
	}
	var lost []string
	for n, seen := range s.nodes {
		if seen.Before(cutoff) {
			delete(s.nodes, n)
			lost = append(lost, n)
		}
	}
	return lost
}

// Nodes lists the live nodes this one knows of, itself included, sorted.
// While this node is off the bus, or just back, it lists every node it
// knew, since their silence may be its own.
func (s *Service) Nodes() []string {
	now := time.Now()
	cutoff := now.Add(-s.silence())
	s.mu.Lock()
	if now.Before(s.grace) || !s.bus.Connected() {
		cutoff = time.Time{}
	}
	out := make([]string, 0, len(s.nodes)+1)
	for n, seen := range s.nodes {
		if !seen.Before(cutoff) {
			out = append(out, n)
		}
	}
	s.mu.Unlock()
	out = append(out, s.opts.Node)
	slices.Sort(out)
	return out
}
