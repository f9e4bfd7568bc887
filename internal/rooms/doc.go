// Package rooms is the core of the hub: room and membership rules, the send
// path, local fan-out with seq gap repair, typing and presence.
//
// Entry point: New returns a *Service; the gateways (rest, signaling) call
// its methods with the acting user. Every method that does I/O takes a
// context first and returns a *chat.Error or a wrapped sentinel error.
//
// The send path: validate → Limiter.Allow → Store.AppendMessage (the commit
// assigns seq and is the acknowledgement) → encode the event once → publish
// it on the room's bus subject. A failed publish is logged and counted, not
// returned: every hub repairs from the store.
//
// Delivery: a hub subscribes to a room's subjects only while it has local
// connections in the room (the local "room state"). Each room state tracks
// the highest seq it delivered; an event with seq == last+1 is fanned out,
// one above that first backfills the gap from the store, one at or below
// is dropped. A periodic comparison with the stored last_seq, and a full
// pass after a bus reconnect or slow-consumer report, catch silent loss.
//
// Concurrency: room states live in a sharded map (a mutex per shard guards
// the map only). Per room, deliverMu serializes everything that delivers
// seq'd events (the bus handler, repair, the room's initial subscribe), and
// mu guards the local connection set and each connection's join state. mu
// is never held across I/O. Conn.Deliver must not block.
package rooms
