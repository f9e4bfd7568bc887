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
// it sees only the connections of its own node. A Redis backend (shared by
// every hub) is to live beside it and pass the same suite, presencetest.Run.
//
// # Entry points
//
//	p := presence.NewMemory(cfg.NodeID)
//	first, err := p.Join(ctx, roomID, user, connID)
//	last, err := p.Leave(ctx, roomID, user.ID, connID)
//	users, err := p.Online(ctx, roomID)       // sorted by user ID
//	conns, err := p.Connections(ctx, roomID)  // sorted by user ID, since, ID
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
package presence
