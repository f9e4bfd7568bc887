package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockKey is the pg_advisory_lock key every hub takes while
// migrating. It is fixed, not per schema, so it must never be reused for
// any other lock in this database.
const migrationLockKey int64 = 0x6875625f6d696772 // "hub_migr"

// unlockTimeout bounds releasing the migration lock after the Open context
// has possibly ended.
const unlockTimeout = 5 * time.Second

// DB is an open PostgreSQL store. The zero value is not usable; call Open.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to the database at url (a postgres:// URL or key=value
// string; pgx pool settings such as pool_max_conns and runtime parameters
// such as search_path are accepted) and brings the schema in its
// search_path up to date. A server that cannot be reached fails with an
// error wrapping chat.ErrUnavailable; give ctx a deadline or the URL a
// connect_timeout so that happens promptly.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error is already redacted by pgx; the URL may hold a
		// password, so it is not repeated here.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap("open", err)
	}
	if err := migrateUp(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool}, nil
}

// Ping checks that the server answers.
func (db *DB) Ping(ctx context.Context) error {
	return wrap("ping", db.pool.Ping(ctx))
}

// Close closes the pool, waiting for acquired connections to be released.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrateUp applies every migration not yet recorded in schema_migrations,
// each in its own transaction with its version row, while holding the
// migration advisory lock. The lock is session-scoped, so everything runs
// on one connection taken out of the pool for the duration. Recorded
// versions this binary does not know are left alone, so an older hub keeps
// starting beside a newer one during a rolling upgrade.
func migrateUp(ctx context.Context, pool *pgxpool.Pool) (err error) {
	steps, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	defer conn.Release()

	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return wrap("migrate: lock", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrationLockKey); uerr != nil {
			// Closing the session is the other way to drop a session
			// lock; a held lock would block every later Open.
			_ = conn.Conn().Close(uctx)
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    bigint      NOT NULL PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return wrap("migrate", err)
	}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return wrap("migrate", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return wrap("migrate", err)
	}
	done := make(map[int64]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	for _, m := range steps {
		if done[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version)
			return err
		})
		if err != nil {
			return wrap("migrate", err)
		}
	}
	return nil
}

// wrap prefixes err with the operation and maps pgx conditions onto the
// chat sentinels, keeping the driver error in the chain for logs.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, chat.ErrNotFound) || errors.Is(err, chat.ErrConflict) || errors.Is(err, chat.ErrUnavailable) {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, chat.ErrNotFound)
	}
	if s := sentinel(err); s != nil {
		return fmt.Errorf("postgres: %s: %w: %w", op, s, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// sentinel returns the chat error a pgx error stands for, or nil.
func sentinel(err error) error {
	// Checked before PgError: a failed connect may carry a server error
	// (bad password, missing database), and either way the store cannot
	// be reached.
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return chat.ErrUnavailable
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return chat.ErrConflict
		case pe.Code == "23503": // foreign_key_violation: the referenced room or account is missing
			return chat.ErrNotFound
		case strings.HasPrefix(pe.Code, "08"), // connection_exception
			pe.Code == "53300", // too_many_connections
			pe.Code == "57P01", // admin_shutdown
			pe.Code == "57P02", // crash_shutdown
			pe.Code == "57P03": // cannot_connect_now
			return chat.ErrUnavailable
		}
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return chat.ErrUnavailable
	}
	return nil
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// stamp is the stored form of a caller's time: UTC at the microsecond
// precision timestamptz keeps. A zero time means "now", so a forgetful
// caller gets a sensible value instead of year 1.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		return chat.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// affected turns "no row matched" into chat.ErrNotFound naming what.
func affected(tag pgconn.CommandTag, what string) error {
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", what, chat.ErrNotFound)
	}
	return nil
}
