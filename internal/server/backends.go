package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/config"
	"github.com/pawfect/hub/internal/presence"
	"github.com/pawfect/hub/internal/ratelimit"
	"github.com/pawfect/hub/internal/rooms"
	"github.com/pawfect/hub/internal/store/postgres"
	"github.com/pawfect/hub/internal/store/sqlite"
)

// store is what the server needs of a store backend beyond the consumers'
// interfaces: a health check and a close.
type store interface {
	rooms.Store
	auth.Accounts
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

// presenceAndLimits picks where presence and rate limits live.
func presenceAndLimits(cfg config.Config, log *slog.Logger) (rooms.Presence, *ratelimit.Memory, error) {
	if cfg.RedisURL != "" {
		return nil, nil, fmt.Errorf("server: HUB_REDIS_URL: Redis presence and rate limits are not available in this build yet; unset it to use the in-process ones")
	}
	log.Info("presence and rate limits: in-process")
	return presence.NewMemory(cfg.NodeID), ratelimit.NewMemory(), nil
}

// busAdapter gives the rooms service the bus in the shape it declares.
type busAdapter struct{ *bus.Bus }

func (b busAdapter) Subscribe(subject string, fn func([]byte)) (rooms.Subscription, error) {
	return b.Bus.Subscribe(subject, fn)
}

func (b busAdapter) Flush(ctx context.Context) error { return b.Bus.Ping(ctx) }

// limiterAdapter gives the rooms service the rate limiter in its shape.
type limiterAdapter struct{ *ratelimit.Memory }

func (l limiterAdapter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	d, err := l.Memory.Allow(ctx, key, limit, window)
	return d.Allowed, d.RetryAfter, err
}
