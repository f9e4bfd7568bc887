package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/calls"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/cluster"
	"github.com/pawfect/hub/internal/config"
	"github.com/pawfect/hub/internal/presence"
	"github.com/pawfect/hub/internal/ratelimit"
	"github.com/pawfect/hub/internal/rest"
	"github.com/pawfect/hub/internal/rooms"
	"github.com/pawfect/hub/internal/store/postgres"
	"github.com/pawfect/hub/internal/store/sqlite"
	"github.com/pawfect/hub/internal/webhooks"
)

// store is what the server needs of a store backend beyond the consumers'
// interfaces: a health check and a close.
type store interface {
	rooms.Store
	auth.Accounts
	cluster.Store
	rest.AuditLog
	webhooks.Store
	calls.Store
	Ping(ctx context.Context) error
	Close() error
}

// Both stores must satisfy every consumer's interface; a backend that lacks
// a method fails to compile here rather than at run time.
var (
	_ store = (*sqlite.DB)(nil)
	_ store = (*postgres.DB)(nil)
)

// openStore is the one place that names the store backends.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("server: HUB_DATABASE_URL: %w", err)
		}
		log.Info("store: PostgreSQL", "url", redact(cfg.DatabaseURL))
		return db, nil
	}
	path := filepath.Join(cfg.DataDir, "hub.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("server: embedded store in HUB_DATA_DIR: %w", err)
	}
	log.Info("store: embedded SQLite", "path", path)
	return db, nil
}

func openBus(ctx context.Context, cfg config.Config, log *slog.Logger, hooks busHooks) (*bus.Bus, error) {
	b, err := bus.Open(ctx, bus.Options{
		URL:            cfg.NATSURL,
		Name:           "hub-" + cfg.NodeID,
		Prefix:         cfg.NATSSubjectPrefix,
		Logger:         log,
		OnReconnect:    hooks.onReconnect,
		OnSlowConsumer: hooks.onSlowConsumer,
	})
	if err != nil {
		if cfg.NATSURL != "" {
			return nil, fmt.Errorf("server: HUB_NATS_URL: %w", err)
		}
		return nil, fmt.Errorf("server: embedded NATS: %w", err)
	}
	if cfg.NATSURL != "" {
		log.Info("bus: NATS", "url", redact(cfg.NATSURL), "prefix", cfg.NATSSubjectPrefix)
	} else {
		log.Info("bus: in-process NATS server", "prefix", cfg.NATSSubjectPrefix)
	}
	return b, nil
}

// presenceLimits is where presence and rate limits live: the backends, a
// health check (nil when they are in-process) and how to close them.
type presenceLimits struct {
	presence rooms.Presence
	reap     reaper // nil when presence is in-process: it dies with its hub
	// reapPrevious clears what a previous run under this node ID left;
	// nil when presence is in-process.
	reapPrevious func(ctx context.Context) ([]presence.Departure, error)
	limiter      limiter
	ping         func(ctx context.Context) error
	close        func() // safe to call more than once
}

// reaper removes a lost hub's presence entries, returning who went
// offline.
type reaper func(ctx context.Context, node string) ([]presence.Departure, error)

// limiter is what the server needs of a rate limiter backend.
type limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ratelimit.Decision, error)
}

var (
	_ limiter        = (*ratelimit.Memory)(nil)
	_ limiter        = (*ratelimit.Redis)(nil)
	_ rooms.Presence = (*presence.Memory)(nil)
	_ rooms.Presence = (*presence.Redis)(nil)
)

// redisStartTimeout bounds the start-up ping of HUB_REDIS_URL.
const redisStartTimeout = 10 * time.Second

// presenceAndLimits picks where presence and rate limits live. With
// HUB_REDIS_URL both are in Redis, on one client, under keys prefixed with
// the NATS subject prefix: hubs that share a bus share presence and limits,
// and hubs on other prefixes (tests sharing a Redis) do not collide.
//
// onReturn receives the users Redis presence put back on its own (see
// presence.WithOnReturn), to be announced online again.
func presenceAndLimits(ctx context.Context, cfg config.Config, log *slog.Logger,
	onReturn func(ctx context.Context, room string, u chat.User)) (*presenceLimits, error) {
	if cfg.RedisURL == "" {
		log.Info("presence and rate limits: in-process")
		lim := ratelimit.NewMemory()
		return &presenceLimits{presence: presence.NewMemory(cfg.NodeID), limiter: lim, close: lim.Close}, nil
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("server: HUB_REDIS_URL: %w", err)
	}
	if opts.ClientName == "" {
		opts.ClientName = "hub-" + cfg.NodeID
	}
	client := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("server: HUB_REDIS_URL: ping %s: %w", redact(cfg.RedisURL), err)
	}
	prefix := cfg.NATSSubjectPrefix
	pres, err := presence.NewRedis(client, cfg.NodeID, presence.WithPrefix(prefix), presence.WithLogger(log),
		presence.WithOnReturn(onReturn))
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("server: HUB_REDIS_URL: %w", err)
	}
	log.Info("presence and rate limits: Redis", "url", redact(cfg.RedisURL), "prefix", prefix,
		"presence_ttl", presence.DefaultTTL)
	return &presenceLimits{
		presence:     pres,
		reap:         pres.Reap,
		reapPrevious: pres.ReapPrevious,
		limiter:      ratelimit.NewRedis(client, prefix),
		ping:         func(ctx context.Context) error { return client.Ping(ctx).Err() },
		close: sync.OnceFunc(func() {
			pres.Close() // the heartbeat first: it uses the client
			if err := client.Close(); err != nil {
				log.Warn("close redis client", "err", err)
			}
		}),
	}, nil
}

// busAdapter gives the rooms service the bus in the shape it declares.
type busAdapter struct{ *bus.Bus }

func (b busAdapter) Subscribe(subject string, fn func([]byte)) (rooms.Subscription, error) {
	return b.Bus.Subscribe(subject, fn)
}

func (b busAdapter) Flush(ctx context.Context) error { return b.Bus.Ping(ctx) }

// limiterAdapter gives the rooms service the rate limiter in its shape.
type limiterAdapter struct{ l limiter }

func (a limiterAdapter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	d, err := a.l.Allow(ctx, key, limit, window)
	return d.Allowed, d.RetryAfter, err
}

// startWebhooks starts this hub's webhook dispatcher on the store. Every
// hub runs one; the store's claims keep them from delivering one event
// twice.
func startWebhooks(cfg config.Config, st store, log *slog.Logger) (*webhooks.Dispatcher, error) {
	d, err := webhooks.NewDispatcher(webhooks.Config{
		Node:         cfg.NodeID,
		PollInterval: cfg.WebhookPollInterval,
		RetryBase:    cfg.WebhookRetryBase,
		RetryCap:     cfg.WebhookRetryCap,
		GiveUp:       cfg.WebhookGiveUp,
		Timeout:      cfg.WebhookTimeout,
		Workers:      cfg.WebhookWorkers,
	}, st, log)
	if err != nil {
		return nil, fmt.Errorf("server: HUB_WEBHOOK_*: %w", err)
	}
	d.Start()
	log.Info("webhooks: dispatcher started", "poll_interval", cfg.WebhookPollInterval,
		"workers", cfg.WebhookWorkers, "give_up", cfg.WebhookGiveUp)
	return d, nil
}
