// Package postgres is the hub's production store: PostgreSQL through a pgx
// connection pool, shared by any number of hubs.
//
// It owns the schema in the database's current search_path (so one
// database can hold many installs or test runs, one schema each), applied
// from the versioned migrations in migrations/ at Open, and implements the
// method set of storetest.Store.
//
// Concurrency: a *DB is safe for concurrent use, and so is running many
// hubs against one database. Migrations run under a session advisory lock
// held on one dedicated connection, so hubs starting together apply each
// step once. AppendMessage takes seq from an UPDATE of the room row, whose
// row lock serializes appends to one room across every hub until commit;
// a rolled-back append gives its seq back, so seqs stay gapless. Duplicate
// sends are stopped by a unique index, not by the pre-check, so they are
// caught even when two hubs race. AppendAudit takes a self-exclusive lock
// on audit_log (readers are not blocked), so audit IDs commit in the order
// they are handed out and a reader paging the log never skips one.
//
// Errors: connection failures are reported as chat.ErrUnavailable, unique
// violations as chat.ErrConflict and missing rows as chat.ErrNotFound, all
// wrapped behind a "postgres: <operation>:" prefix.
package postgres
