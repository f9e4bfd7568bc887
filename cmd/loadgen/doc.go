// Command loadgen drives a running hub (or several hubs forming one service)
// through the public wire contract only: the HTTP API of PROTOCOL §2 for
// set-up and the WebSocket of §3 for traffic. It produces the figures in
// docs/benchmarks.md; docs/loadgen.md is the user guide.
//
// Scenarios:
//
//   - fanout: -receivers connections join one public room; -publishers
//     logical publishers send -rate msg/s in total into it.
//   - rooms: -rooms public rooms of -per-room members each; in every room
//     -rate msg/s are sent by its own members.
//   - idle: -conns connections are opened (joined to rooms of -per-room) and
//     held; with -hub-pid the hub's resident memory per connection is
//     reported.
//
// Client i talks to hub i mod n of -hubs; the plans number each room's
// members consecutively, so every room has members (and publishers) on
// every hub, and the report gives each hub's share.
//
// With -inspect-hub (fanout and rooms), -inspect-concurrency workers sign
// in as the -admin account and keep one request each in flight to the
// admin room endpoints of PROTOCOL §2 Ops (GET /api/admin/rooms/{id} over
// the scenario's rooms, and GET /api/admin/rooms every -inspect-list-every
// requests); the report counts the requests started in the measured
// window: answers per second, latency, failures by HTTP status.
//
// One registered user creates the rooms; every connection is a guest with a
// token of its own. The hub limits each user to 20 sends per 10 s, so every
// logical publisher rotates over a pool of connections (distinct users)
// sized to keep each user at or below maxUserRate.
//
// Every message text is "lg <unix-nanos> <publisher>/<n>"; a receiver takes
// the latency as its clock minus that timestamp (one process, one clock) and
// checks that the seqs of its room rise by exactly one. The run is bounded:
// set-up (at most -setup-timeout), -warmup (not measured), -duration
// (measured), up to -drain for in-flight events, then every connection is
// closed with status 1000.
//
// Concurrency: each connection has one read goroutine, which owns the
// connection's receiver state and runs reply callbacks; writes may come from
// any goroutine (coder/websocket serialises them). Each publisher and each
// inspection worker is a goroutine of runTraffic, which waits for all of
// them before it reports. Shared counters are atomics or mutex-guarded
// maps; there is no package-level state.
package main
