package server

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/calls"
	"github.com/pawfect/hub/internal/config"
	"github.com/pawfect/hub/internal/sfurpc"
)

// callParts are the pieces of video calls on a hub: the embedded SFU node
// (HUB_SFU=embedded), the client that reaches SFU nodes over the bus, the
// call service, and the subscription that hands call_ring to this hub's
// connections of a user.
type callParts struct {
	node       *sfuNode // nil with HUB_SFU=nats
	client     *sfurpc.Client
	svc        *calls.Service
	userEvents *bus.Subscription
	stop       context.CancelFunc // ends the sweeper and the reaper
	quit       <-chan struct{}    // closed by stop
	wg         sync.WaitGroup     // the sweeper and the reaper
}

func (s *Server) startCalls(ctx context.Context) (_ *callParts, err error) {
	cfg := s.cfg
	p := &callParts{}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	embedded := ""
	if cfg.SFU == config.SFUEmbedded {
		embedded = cfg.NodeID
		if p.node, err = startSFUNode(s.bus, embedded, cfg.SFUNetwork, s.metrics.SFU(), s.log); err != nil {
			return nil, err
		}
	}
	// The client watches SFU nodes from the start; the service it reports
	// losses to is built next.
	var svc atomic.Pointer[calls.Service]
	if p.client, err = sfurpc.NewClient(s.bus, sfurpc.ClientOptions{
		Embedded: embedded,
		Log:      s.log,
		OnNodeLost: func(node string) {
			if svc := svc.Load(); svc != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				svc.SFULost(ctx, node)
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("server: SFU client: %w", err)
	}
	p.svc, err = calls.New(calls.Options{
		HubNode:         cfg.NodeID,
		MaxParticipants: cfg.CallMaxParticipants,
		RingTimeout:     cfg.CallRingTimeout,
		ICE: calls.ICEConfig{
			STUNURLs: cfg.STUNURLs, TURNURLs: cfg.TURNURLs, TURNSecret: cfg.TURNSecret.Value(), TURNTTL: cfg.TURNTTL,
		},
		Log: s.log.With("component", "calls"),
	}, calls.Deps{
		Store: s.store, SFU: p.client, Inspector: p.client, Rooms: s.rooms,
		Users: userEvents{s.bus}, Bus: callsBus{s.bus}, Limiter: limiterAdapter{s.limits.limiter},
	})
	if err != nil {
		return nil, fmt.Errorf("server: calls: %w", err)
	}
	svc.Store(p.svc)
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop, p.quit = stop, runCtx.Done()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.svc.Run(runCtx); err != nil && runCtx.Err() == nil {
			s.log.Error("calls: sweeper stopped", "err", err)
		}
	}()
	mode := "embedded"
	if embedded == "" {
		mode = "nats"
	}
	s.log.Info("calls: ready", "sfu", mode, "max_participants", cfg.CallMaxParticipants,
		"ring_timeout", cfg.CallRingTimeout, "turn", len(cfg.TURNURLs) > 0)
	return p, nil
}

// reapInterval is how often a hub clears call participants and calls left
// on nodes that died unseen (a restart under a new node ID); the first pass
// waits until every live node has had time to announce itself.
const (
	reapFirst    = 10 * time.Second
	reapInterval = time.Minute
)

// attach connects calls to the parts of the hub built after them: call_ring
// frames go to the gateway's connections, and the reaper asks the cluster
// which hubs are alive. New calls it once both exist.
func (p *callParts) attach(s *Server) error {
	var err error
	if p.userEvents, err = s.bus.Subscribe(s.bus.UserEvents("*"), s.onUserEvent); err != nil {
		return fmt.Errorf("server: subscribe to user events: %w", err)
	}
	p.startReaper(s)
	return nil
}

// startReaper runs calls.Reap with the hubs and SFU nodes this hub knows to
// be alive.
func (p *callParts) startReaper(s *Server) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTimer(reapFirst)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
			}
			t.Reset(reapInterval)
			if !s.bus.Connected() {
				continue // everyone would look dead
			}
			hubs := map[string]bool{s.cfg.NodeID: true}
			for _, n := range s.cluster.Nodes() {
				hubs[n] = true
			}
			sfus := map[string]bool{}
			if p.node != nil {
				sfus[s.cfg.NodeID] = true
			}
			for _, n := range p.client.Nodes() {
				sfus[n.Node] = true
			}
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			p.svc.Reap(rctx, func(n string) bool { return hubs[n] }, func(n string) bool { return sfus[n] })
			cancel()
		}
	}()
}

// close stops the call service and says goodbye for the embedded SFU,
// whose calls other hubs then end.
func (p *callParts) close() {
	if p == nil {
		return
	}
	if p.userEvents != nil {
		_ = p.userEvents.Unsubscribe()
	}
	if p.stop != nil {
		p.stop()
		p.wg.Wait()
	}
	if p.svc != nil {
		p.svc.Close()
	}
	if p.client != nil {
		p.client.Close()
	}
	if p.node != nil {
		p.node.close()
	}
}

// userEvent carries a client frame for every connection of one user.
type userEvent struct {
	User  string          `json:"user"`
	Frame json.RawMessage `json:"frame"`
}

// userEvents publishes user frames for the call service.
type userEvents struct{ b *bus.Bus }

func (u userEvents) DeliverToUser(ctx context.Context, userID string, frame []byte) error {
	b, err := json.Marshal(userEvent{User: userID, Frame: frame})
	if err != nil {
		return fmt.Errorf("server: encode user event: %w", err)
	}
	return u.b.Publish(ctx, u.b.UserEvents(userID), b)
}

func (s *Server) onUserEvent(data []byte) {
	var ev userEvent
	if err := json.Unmarshal(data, &ev); err != nil || ev.User == "" || len(ev.Frame) == 0 {
		s.log.Warn("undecodable user event", "err", err)
		return
	}
	if s.gateway != nil {
		s.gateway.DeliverUser(ev.User, ev.Frame)
	}
}

// callsBus gives the call service the per-connection SFU subjects.
type callsBus struct{ b *bus.Bus }

func (c callsBus) Subscribe(subject string, fn func([]byte)) (calls.Subscription, error) {
	return c.b.Subscribe(subject, fn)
}

func (c callsBus) ConnRTC(connID string) string { return c.b.ConnRTC(connID) }
