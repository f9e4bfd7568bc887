// Package sqlite is the hub's embedded store: one pure-Go SQLite file
// (modernc.org/sqlite through database/sql) in WAL mode, for single-hub
// installs that want no database server.
//
// It owns the file's schema, applied from the versioned migrations in
// migrations/ at Open, and implements the method set of storetest.Store.
//
// Concurrency: a *DB is safe for concurrent use. Writes go through a pool
// of exactly one connection, so in-process writers queue in Go rather than
// spinning on SQLite's busy handler, and each write transaction starts with
// BEGIN IMMEDIATE so it holds the write lock from its first statement: the
// read of last_seq and the insert that uses it can never interleave with
// another writer, even one in another process. Reads use a separate
// multi-connection, query-only pool; WAL lets them run alongside the writer
// and see every transaction committed before they start.
package sqlite
