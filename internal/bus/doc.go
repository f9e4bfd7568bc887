// Package bus is the hub's message bus: a thin, opinionated wrapper around a
// NATS connection.
//
// # What it owns
//
//   - The NATS connection, and with no URL configured an embedded nats-server
//     running in-process (DontListen: no TCP port is opened; the client
//     connects through nats.InProcessServer).
//   - Every subject name the hub uses, all in subjects.go, built from one
//     configurable prefix (default "hub").
//   - The mapping of NATS failures onto chat.ErrUnavailable, so callers can
//     answer "unavailable" without knowing about NATS.
//
// # Entry points
//
//	b, err := bus.Open(ctx, bus.Options{URL: cfg.NATSURL, Prefix: "hub"})
//	defer b.Close()
//	sub, err := b.Subscribe(b.RoomMsg(roomID), func(data []byte) { … })
//	err = b.Publish(ctx, b.RoomMsg(roomID), payload)
//	reply, err := b.Request(ctx, b.Node(nodeID), query)
//
// # Behaviour while disconnected
//
// Open's ctx bounds the first connect through its deadline (together with
// Options.ConnectTimeout); the Bus does not keep it.
//
// With a URL the client reconnects forever (nats.MaxReconnects(-1)), but the
// first connect must succeed: Open fails with an error naming the URL (with
// any password redacted) so start-up says what is wrong.
//
// nats.go normally keeps publishes made while reconnecting in an 8 MiB
// buffer and sends them once the connection is back. The hub does not want
// that: a message the store already committed is repaired from the store by
// every hub (seq gap repair), and a typing event minutes late is noise. So the
// reconnect buffer is disabled (nats.ReconnectBufSize(-1)) and Publish,
// Request and Ping fail at once with an error wrapping chat.ErrUnavailable
// when the connection is not up. A publish that does succeed is only handed
// to the client's write buffer; NATS is at-most-once, and callers must not
// treat a nil error as delivery.
//
// Subscriptions survive a reconnect (nats.go re-sends them), but messages
// published while the link was down are lost; Options.OnReconnect lets the
// caller repair what was missed.
//
// # Concurrency contract
//
// A *Bus is safe for concurrent use. Each subscription's handler runs on its
// own goroutine owned by nats.go, serially and in the order the server
// delivered the messages; handlers of different subscriptions run
// concurrently. A handler that blocks stalls only its own subscription; when
// its pending queue overflows the generous limits set here, NATS drops
// messages for it and Options.OnSlowConsumer is called with its subject.
// OnReconnect and OnSlowConsumer run on nats.go's callback goroutine, one at
// a time, and must not block for long.
//
// A handler must not call Close (Close waits for handlers to finish).
//
// Close drains the connection (pending handlers finish, buffered publishes
// are flushed), then shuts the embedded server down and waits for it. After
// Close returns, no goroutine started by the package is left running.
package bus
