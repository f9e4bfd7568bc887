package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/store/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeoutMS bounds how long a statement waits for a lock held by
// another process before failing with SQLITE_BUSY (reported as
// chat.ErrUnavailable).
const busyTimeoutMS = 5000

// DB is an open SQLite store. The zero value is not usable; call Open.
type DB struct {
	w *sql.DB // exactly one connection: the only writer
	r *sql.DB // query-only readers
}

// Open opens (creating if needed) the SQLite database file at path and
// brings its schema up to date. The directory must exist. In-memory
// databases are refused because the read and write pools must share one
// file.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		// A '?' would be taken as the start of DSN parameters and a
		// file: URI would bypass them, so only plain paths are accepted.
		return nil, fmt.Errorf("sqlite: open: %q is not a plain file path", path)
	}

	w, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The first connection switches the file to WAL; it must exist before
	// any reader opens the file.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, wrap("open", err)
	}
	if err := migrateUp(ctx, w); err != nil {
		w.Close()
		return nil, err
	}

	r, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, wrap("open", err)
	}
	return &DB{w: w, r: r}, nil
}

// dsn builds the driver DSN. modernc.org/sqlite strips the query from a
// plain path, runs each _pragma on every new connection (busy_timeout
// first), and with _txlock=immediate issues BEGIN IMMEDIATE for every
// non-read-only transaction.
func dsn(path string, write bool) string {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	v.Add("_pragma", "foreign_keys(1)")
	if write {
		v.Add("_pragma", "journal_mode(WAL)")
		// FULL, not NORMAL: a commit acknowledges a send, so it must
		// survive a power loss, not only a crash.
		v.Add("_pragma", "synchronous(FULL)")
		v.Set("_txlock", "immediate")
	} else {
		// Guards against a write slipping onto a reader connection,
		// where it would dodge the single-writer queue.
		v.Add("_pragma", "query_only(1)")
	}
	return path + "?" + v.Encode()
}

// Ping checks that both pools can reach the file.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return wrap("ping", err)
	}
	if err := db.r.PingContext(ctx); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// Close closes both pools; closing again is a no-op. Readers go first so
// that the last connection to close, which checkpoints and removes the
// WAL, is the writer rather than a query-only reader.
func (db *DB) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// migrateUp applies every migration not yet recorded in schema_migrations.
// Each step and its version row share one IMMEDIATE transaction, and the
// version is re-checked inside it, so two processes opening the same new
// file cannot both apply a step. Recorded versions this binary does not
// know are left alone, so an older hub still opens a newer file.
func migrateUp(ctx context.Context, w *sql.DB) error {
	steps, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return wrap("migrate", err)
	}
	for _, m := range steps {
		err := inTx(ctx, w, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				m.Version, micros(chat.Now()))
			return err
		})
		if err != nil {
			return wrap("migrate", err)
		}
	}
	return nil
}

// inTx runs fn in a transaction on pool, committing if it returns nil.
func inTx(ctx context.Context, pool *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// wrap prefixes err with the operation and maps SQLite conditions onto the
// chat sentinels, keeping the driver error in the chain for logs.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, chat.ErrNotFound) || errors.Is(err, chat.ErrConflict) || errors.Is(err, chat.ErrUnavailable) {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, chat.ErrNotFound)
	}
	if s := sentinel(err); s != nil {
		return fmt.Errorf("sqlite: %s: %w: %w", op, s, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// sentinel returns the chat error a SQLite error code stands for, or nil.
func sentinel(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return chat.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		// Only references to rooms and accounts exist, so a failed one
		// means the referenced row is missing.
		return chat.ErrNotFound
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
		sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN:
		// Nothing was committed and a later retry may succeed: the
		// condition callers answer with "unavailable".
		return chat.ErrUnavailable
	}
	return nil
}

func isUnique(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) &&
		(se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// stamp is the stored form of a caller's time. A zero time means "now",
// so a forgetful caller gets a sensible value instead of year 1.
func stamp(t time.Time) int64 {
	if t.IsZero() {
		t = chat.Now()
	}
	return micros(t)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// affected turns "no row matched" into chat.ErrNotFound naming what.
func affected(op string, res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %s: %w", op, what, chat.ErrNotFound)
	}
	return nil
}
