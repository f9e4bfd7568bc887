package rooms

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Config holds the service's limits.
type Config struct {
	MaxMessageChars int           // message text length after trimming
	SendLimit       int           // sends allowed per user in SendWindow
	SendWindow      time.Duration //
	RepairInterval  time.Duration // how often delivered seqs are compared with the store
}

func (c *Config) setDefaults() {
	if c.MaxMessageChars <= 0 {
		c.MaxMessageChars = 4000
	}
	if c.SendLimit <= 0 {
		c.SendLimit = 20
	}
	if c.SendWindow <= 0 {
		c.SendWindow = 10 * time.Second
	}
	if c.RepairInterval <= 0 {
		c.RepairInterval = 2 * time.Second
	}
}

// Deps are the backends the service uses.
type Deps struct {
	Store    Store
	Bus      Bus
	Presence Presence
	Limiter  Limiter
	Metrics  Metrics // optional
	Logger   *slog.Logger
}

const shardCount = 64

// shard guards one slice of the local room states map.
type shard struct {
	mu    sync.Mutex // guards rooms
	rooms map[string]*roomState
}

// Service implements the room rules and local fan-out of one hub.
type Service struct {
	cfg      Config
	store    Store
	bus      Bus
	presence Presence
	limiter  Limiter
	metrics  Metrics
	log      *slog.Logger

	shards [shardCount]shard

	repairNow chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New returns a running service; Close stops it.
func New(cfg Config, d Deps) *Service {
	cfg.setDefaults()
	s := &Service{
		cfg:       cfg,
		store:     d.Store,
		bus:       d.Bus,
		presence:  d.Presence,
		limiter:   d.Limiter,
		metrics:   d.Metrics,
		log:       d.Logger,
		repairNow: make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	if s.metrics == nil {
		s.metrics = nopMetrics{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for i := range s.shards {
		s.shards[i].rooms = make(map[string]*roomState)
	}
	s.wg.Add(1)
	go s.repairLoop()
	return s
}

// Close stops the repair loop and drops every local room subscription.
// Connections are the gateway's to close.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.wg.Wait()
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			states := make([]*roomState, 0, len(sh.rooms))
			for id, rs := range sh.rooms {
				states = append(states, rs)
				delete(sh.rooms, id)
			}
			sh.mu.Unlock()
			for _, rs := range states {
				rs.unsubscribe()
			}
		}
	})
}

// RepairAll asks for an immediate comparison of every local room with the
// store, e.g. after the bus reconnected or reported dropped messages.
func (s *Service) RepairAll() {
	select {
	case s.repairNow <- struct{}{}:
	default:
	}
}

func (s *Service) shardFor(roomID string) *shard {
	h := fnv.New32a()
	_, _ = h.Write([]byte(roomID))
	return &s.shards[h.Sum32()%shardCount]
}

func (s *Service) repairLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.RepairInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.repairNow:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.repairPass(ctx)
		cancel()
	}
}

// repairPass reads last_seq of every local room in one query and backfills
// the rooms whose store is ahead of what this hub delivered.
func (s *Service) repairPass(ctx context.Context) {
	var states []*roomState
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, rs := range sh.rooms {
			states = append(states, rs)
		}
		sh.mu.Unlock()
	}
	if len(states) == 0 {
		return
	}
	const batch = 500
	for start := 0; start < len(states); start += batch {
		end := min(start+batch, len(states))
		ids := make([]string, 0, end-start)
		for _, rs := range states[start:end] {
			ids = append(ids, rs.id)
		}
		seqs, err := s.store.LastSeqs(ctx, ids)
		if err != nil {
			s.log.WarnContext(ctx, "rooms: repair pass: read last seqs", "err", err)
			return
		}
		for _, rs := range states[start:end] {
			if stored, ok := seqs[rs.id]; ok {
				rs.catchUp(ctx, stored)
			}
		}
	}
}

type nopMetrics struct{}

func (nopMetrics) MessageStored(time.Duration) {}
func (nopMetrics) EventsDelivered(int)         {}
func (nopMetrics) PublishFailed()              {}
func (nopMetrics) GapRepaired(int)             {}
func (nopMetrics) RoomsActive(int)             {}

// errNotVisible is what a non-member learns about a private room: nothing.
func errNotVisible() error { return chat.Errorf(chat.CodeNotFound, "room not found") }
