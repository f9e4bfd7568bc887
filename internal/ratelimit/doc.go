// Package ratelimit answers "may this key act now?" with an exact sliding
// window: at most limit allowed events in any window of the given length.
//
// # What it owns
//
// The per-key log of allowed events and the arithmetic of the decision.
// Memory is the in-process backend; Redis keeps each key's log in a sorted
// set and decides in one atomic Lua script, so every hub on one Redis and
// prefix shares the limits. Both pass one suite, ratelimittest.Run.
//
// # Semantics
//
// An event allowed at time t counts against its key during [t, t+window).
// Allow(key, limit, window) at time now counts the key's allowed events in
// (now-window, now]; if there are fewer than limit, it records one at now and
// returns Allowed with Remaining = the events still allowed right now. If
// there are limit (or more, after the limit was lowered), it records nothing
// and returns RetryAfter = how long until enough of them expire for one more
// event to be allowed; Remaining is 0. A refused call never extends the wait,
// so a client that retries exactly after RetryAfter succeeds (absent other
// callers on the same key).
//
// # Entry points
//
//	l := ratelimit.NewMemory()
//	defer l.Close()
//	d, err := l.Allow(ctx, "send:"+userID, 20, 10*time.Second)
//	if !d.Allowed { return chat.RateLimited(d.RetryAfter) }
//
//	r := ratelimit.NewRedis(client, "hub") // keys hub:ratelimit:<key>
//
// WithClock injects a clock for tests; WithJanitorInterval sets how often idle
// keys are evicted (Memory only). Redis reads time from the hub's clock too,
// not Redis's, so hubs sharing a Redis should keep their clocks in sync; it
// keeps times in microseconds.
//
// # Concurrency contract
//
// Memory is safe for concurrent use. Keys are spread over a fixed number of
// shards by hash; each shard's mutex guards that shard's key map and every
// event log in it, and one call holds one shard lock at a time. One janitor
// goroutine, started by NewMemory and stopped (and waited for) by Close,
// evicts keys whose every event has expired. Allow keeps working after Close;
// only the eviction stops.
//
// Redis is safe for concurrent use, across hubs too: each decision is one
// script, which Redis runs atomically. It starts no goroutine; Redis expires
// idle keys a window (plus a second) after their latest allowed event.
package ratelimit
