// Package presence tracks who is online in which room, connection by
// connection.
//
// # What it owns
//
// The live map room → user → connections, and the two transitions the rooms
// package turns into presence events: a user's first connection joining a
// room (Join returns first=true: announce "online") and the user's last
// connection leaving it (Leave returns last=true: announce "offline").
//
// Memory is the in-process backend, for a single hub or an embedded set-up;
// it sees only the connections of its own node. Redis is the backend shared
// by every hub on one Redis and key prefix: first and last then count the
// user's connections on all hubs. Both pass one suite, presencetest.Run.
//
// In Redis each connection carries a deadline (Redis clock) TTL ahead,
// moved by its node's heartbeat; a node that stops (crash, partition) loses
// its connections within the TTL, and no call lists an expired one. A
// surviving node that learns a node is lost (the hub's cluster heartbeat
// tells it within seconds) calls Reap, which removes the lost node's
// connections at once and returns the users to announce offline, each to
// exactly one caller. Users whose connections merely expired, with no one
// reaping, are not announced offline: a reconnect announces them online. The key layout is documented in
// redis_scripts.go. Run Redis with maxmemory-policy noeviction: evicting one
// key of a room would break the room's bookkeeping.
//
// # Entry points
//
//	p := presence.NewMemory(cfg.NodeID)
//	first, err := p.Join(ctx, roomID, user, connID)
//	last, err := p.Leave(ctx, roomID, user.ID, connID)
//	users, err := p.Online(ctx, roomID)       // sorted by user ID
//	conns, err := p.Connections(ctx, roomID)  // sorted by user ID, since, ID
//
//	r, err := presence.NewRedis(client, cfg.NodeID, presence.WithPrefix("hub"))
//	defer r.Close() // stops the heartbeat; the client stays open
//
// Joining with a connection ID already present is idempotent (first=false).
// Leaving with an unknown room, user or connection is not an error: it
// returns last=false. The user stored for a room is the one given by the
// latest Join, so display-name changes show up on reconnect.
//
// # Concurrency contract
//
// Memory is safe for concurrent use. Rooms are spread over a fixed number
// of shards by a hash of the room ID; each shard has its own mutex, which
// guards that shard's room map and everything reachable from it. No call
// holds more than one shard lock, and none does I/O or calls out while
// holding it, so there is no lock ordering to respect. Memory starts no
// goroutines and needs no Close.
//
// Redis is safe for concurrent use; its atomicity is Redis's: each call is
// one Lua script over the room's keys, so concurrent joins and leaves of
// one user on several hubs see exactly one first and one last. Its local
// record of this node's connections (for the heartbeat) is sharded like
// Memory, one mutex per shard, never held across I/O. One heartbeat
// goroutine, started by NewRedis and stopped (and waited for) by Close,
// refreshes that record's connections in pipelined batches every interval,
// and joins again any that Redis lost (a restart); Leave marks a connection
// gone so an in-flight heartbeat cannot bring it back.
package presence
