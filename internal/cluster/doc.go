// Package cluster is what the hub nodes of one service know of each other,
// and the operator's questions asked of all of them at once.
//
// # What it owns
//
//   - Liveness: every node announces itself on the bus (NodeBeats) when it
//     starts ("hello", which makes the others announce themselves at once),
//     every Heartbeat while it runs ("alive") and when it stops ("bye"). A
//     node not heard from for three heartbeats is forgotten.
//   - Room inspection (PROTOCOL §2 Ops): Rooms and Room combine what the
//     store knows (the room, last_seq, recent messages) with what each node
//     holds in memory (its connections), gathered with one bus request to
//     all nodes. The answer comes as soon as every live node has replied,
//     or at the Timeout; a node that has not replied by then is listed as
//     unreachable rather than waited for.
//   - Disconnect: closes one connection on whichever node holds it.
//
// The asking node answers for itself directly, so inspection of a single
// hub works, and shows its own connections, even while the bus is down.
//
// # Entry points
//
//	c, err := cluster.New(ctx, cluster.Options{Node: cfg.NodeID}, cluster.Deps{Bus: b, Local: l, Store: st})
//	defer c.Close()
//	stats, nodes, err := c.Rooms(ctx)
//	detail, err := c.Room(ctx, roomID)
//	node, err := c.Disconnect(ctx, connID)
//
// # Concurrency contract
//
// Service is safe for concurrent use. mu guards the table of live nodes and
// nothing else; it is never held across I/O. One heartbeat goroutine,
// started by New, is stopped and waited for by Close. Bus handlers run on
// the bus's goroutines and only read the Local view and the node table.
package cluster
