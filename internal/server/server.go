package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/cluster"
	"github.com/pawfect/hub/internal/config"
	"github.com/pawfect/hub/internal/metrics"
	"github.com/pawfect/hub/internal/rest"
	"github.com/pawfect/hub/internal/rooms"
	"github.com/pawfect/hub/internal/signaling"
	"github.com/pawfect/hub/internal/webhooks"
)

// Server is one running hub.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	store   store
	bus     *bus.Bus
	limits  *presenceLimits
	metrics *metrics.Hub
	rooms   *rooms.Service
	gateway *signaling.Gateway
	cluster *cluster.Service
	calls   *callParts
	http    *http.Server
	ln      net.Listener

	revocations *bus.Subscription
	debug       *debugServer
	webhooks    *webhooks.Dispatcher
	draining    atomic.Bool
}

// busHooks lets the bus reach the rooms service, which is built after it.
type busHooks struct {
	onReconnect    func()
	onSlowConsumer func(subject string)
}

// New builds a hub from cfg and binds its listener; Run serves it. On error
// everything opened so far is closed again.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (_ *Server, err error) {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", cfg.NodeID)
	s := &Server{cfg: cfg, log: log, metrics: metrics.New()}
	defer func() {
		if err != nil {
			s.closeBackends()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: HUB_DATA_DIR: %w", err)
	}
	if s.store, err = openStore(ctx, cfg, log); err != nil {
		return nil, err
	}
	var svc atomic.Pointer[rooms.Service]
	hooks := busHooks{
		onReconnect: func() {
			s.metrics.BusEvent("reconnect")
			if r := svc.Load(); r != nil {
				r.RepairAll()
			}
		},
		onSlowConsumer: func(string) {
			s.metrics.BusEvent("slow_consumer")
			if r := svc.Load(); r != nil {
				r.RepairAll()
			}
		},
	}
	if s.bus, err = openBus(ctx, cfg, log, hooks); err != nil {
		return nil, err
	}
	onReturn := func(ctx context.Context, room string, u chat.User) {
		if r := svc.Load(); r != nil {
			r.AnnounceOnline(ctx, room, u)
		}
	}
	if s.limits, err = presenceAndLimits(ctx, cfg, log, onReturn); err != nil {
		return nil, err
	}
	pres, limiter := s.limits.presence, s.limits.limiter

	secret := []byte(cfg.JWTSecret.Value())
	if len(secret) == 0 {
		if secret, err = auth.LoadOrCreateSecret(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("server: HUB_JWT_SECRET: %w", err)
		}
	}
	authSvc, err := auth.New(s.store, auth.Options{
		Secret: secret, TokenTTL: cfg.TokenTTL, BotTokenTTL: cfg.BotTokenTTL, BcryptCost: cfg.BcryptCost,
		OnRevoke: s.publishRevocation,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if cfg.BootstrapAdmin.IsSet() {
		if _, err := authSvc.EnsureAdmin(ctx, cfg.BootstrapAdmin.Name, cfg.BootstrapAdmin.Password.Value()); err != nil {
			return nil, fmt.Errorf("server: HUB_BOOTSTRAP_ADMIN: %w", err)
		}
		log.Info("bootstrap admin ready", "username", cfg.BootstrapAdmin.Name)
	}

	limits := limiterAdapter{limiter} // one budget for the API and the gateway
	s.rooms = rooms.New(rooms.Config{
		MaxMessageChars: cfg.MaxMessageChars,
		SendLimit:       cfg.SendRate.Count,
		SendWindow:      cfg.SendRate.Per,
		RepairInterval:  cfg.RepairInterval,
	}, rooms.Deps{
		Store: s.store, Bus: busAdapter{s.bus}, Presence: pres,
		Limiter: limits, Metrics: s.metrics, Logger: log,
	})
	svc.Store(s.rooms)
	s.reapPrevious(ctx)
	if s.webhooks, err = startWebhooks(cfg, s.store, log); err != nil {
		return nil, err
	}
	if s.calls, err = s.startCalls(ctx); err != nil {
		return nil, err
	}

	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("server: HUB_ADDR: %w", err)
	}
	if strings.HasSuffix(cfg.Addr, ":0") && cfg.PublicURL == "http://"+cfg.Addr {
		// An ephemeral port (tests): the public URL is the bound address.
		cfg.PublicURL = "http://" + s.ln.Addr().String()
		s.cfg = cfg
	}
	s.gateway = signaling.New(signaling.Config{
		OriginAllowed: cfg.OriginAllowed, HostAllowed: cfg.HostAllowed,
		MaxFrameBytes: int64(cfg.MaxFrameBytes), MaxJoinedRooms: cfg.MaxJoinedRooms,
		QueueSize: cfg.OutboundQueue, PingInterval: cfg.PingInterval, PongTimeout: cfg.PongTimeout,
		WriteTimeout: cfg.WriteTimeout, AuthTimeout: cfg.AuthTimeout, WriteCoalesce: cfg.WriteCoalesce,
	}, signaling.Deps{Auth: authSvc, Rooms: s.rooms, Calls: s.calls.svc, Metrics: s.metrics, Logger: log})

	if s.revocations, err = s.bus.Subscribe(s.bus.User("*"), s.onRevocation); err != nil {
		return nil, fmt.Errorf("server: subscribe to revocations: %w", err)
	}

	if s.cluster, err = cluster.New(ctx, cluster.Options{
		Node:       cfg.NodeID,
		Subjects:   cluster.Subjects{Beats: s.bus.NodeBeats(), Questions: s.bus.Nodes()},
		Logger:     log,
		OnNodeLost: s.onNodeLost,
	}, cluster.Deps{
		Bus: clusterBus{s.bus}, Local: clusterLocal{rooms: s.rooms, gateway: s.gateway}, Store: s.store,
		Calls: s.calls.svc,
	}); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}

	if err := s.calls.attach(s); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	rest.New(rest.Deps{Auth: authSvc, Rooms: s.rooms, Limiter: limits, Ops: s.cluster, Audit: s.store,
		Webhooks: webhooks.NewRegistry(s.store), Logger: log}).Register(mux)
	mux.Handle("GET /ws", s.gateway)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.metrics.Handler())
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.DebugAddr != "" {
		if s.debug, err = startDebug(cfg.DebugAddr); err != nil {
			return nil, err
		}
		log.Warn("pprof endpoints enabled", "addr", s.debug.ln.Addr().String())
	}
	log.Info("hub ready", "addr", s.ln.Addr().String(), "public_url", cfg.PublicURL)
	return s, nil
}

// Addr is the address the hub listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the hub's base URL on its bound address.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Run serves until ctx ends, then drains and closes everything. It returns
// nil after a clean drain.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	select {
	case err := <-errc:
		s.closeBackends()
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}
	err := s.drain()
	<-errc // Serve returns http.ErrServerClosed once Shutdown began
	return err
}

// drain is the graceful shutdown: refuse new work, move clients away with
// 1001, let in-flight sends and requests finish, then close the backends.
func (s *Server) drain() error {
	s.draining.Store(true)
	s.log.Info("draining")
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	shutdownHTTP := make(chan error, 1)
	go func() { shutdownHTTP <- s.http.Shutdown(ctx) }()
	if err := s.gateway.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("server: close websockets: %w", err))
	}
	if err := <-shutdownHTTP; err != nil {
		errs = append(errs, fmt.Errorf("server: shut down http: %w", err))
	}
	if s.debug != nil {
		if err := s.debug.close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server: close debug listener: %w", err))
		}
	}
	if err := s.webhooks.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("server: stop webhook deliveries: %w", err))
	}
	s.closeBackends()
	s.log.Info("stopped")
	return errors.Join(errs...)
}

func (s *Server) closeBackends() {
	if s.revocations != nil {
		_ = s.revocations.Unsubscribe()
	}
	if s.cluster != nil {
		s.cluster.Close() // says goodbye while the bus is still up
	}
	s.calls.close() // so does the embedded SFU; other hubs end its calls
	if s.rooms != nil {
		s.rooms.Close()
	}
	if s.webhooks != nil {
		// A no-op after drain; otherwise in-flight POSTs get their own
		// request timeout to finish before the store closes under them.
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WebhookTimeout)
		_ = s.webhooks.Close(ctx)
		cancel()
	}
	if s.ln != nil && s.http == nil {
		_ = s.ln.Close()
	}
	if s.limits != nil {
		s.limits.close()
	}
	if s.bus != nil {
		s.bus.Close()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.log.Warn("close store", "err", err)
		}
	}
}

// redact drops the password of a URL for logs.
func redact(raw string) string {
	var out []string
	for _, part := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil {
			out = append(out, "(unparsable)")
			continue
		}
		out = append(out, u.Redacted())
	}
	return strings.Join(out, ",")
}

// revocation tells every hub to close a revoked account's connections.
type revocation struct {
	User string `json:"user"`
}

func (s *Server) publishRevocation(ctx context.Context, userID string) {
	b, _ := json.Marshal(revocation{User: userID})
	if err := s.bus.Publish(ctx, s.bus.User(userID), b); err != nil {
		// Its tokens are refused anyway; only open sockets linger until
		// their next reconnect.
		s.log.WarnContext(ctx, "publish revocation", "user", userID, "err", err)
	}
}

func (s *Server) onRevocation(data []byte) {
	var r revocation
	if err := json.Unmarshal(data, &r); err != nil || r.User == "" {
		s.log.Warn("undecodable revocation", "err", err)
		return
	}
	if s.gateway != nil {
		s.gateway.DisconnectUser(r.User, chat.CloseUnauthorized, "account revoked")
	}
}
