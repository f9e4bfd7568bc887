// Package signaling is the hub's WebSocket gateway (PROTOCOL §3): it
// accepts connections on /ws after an Origin and Host check, authenticates
// them, decodes each command frame, dispatches it to the rooms service and
// writes exactly one reply per command.
//
// An idle connection costs one goroutine: its reader, which reads frames
// and runs commands synchronously, so one connection's commands are handled
// in order. Outbound events go into a bounded queue; a writer goroutine
// runs only while the queue holds frames, frames them itself (frame.go) and
// writes each batch with one system call under a socket deadline, at most
// once per HUB_WRITE_COALESCE. Deliver never blocks: when the queue is full
// the connection is closed as a slow consumer (close 4008) instead of
// slowing the fan-out or growing memory. Close handshakes and pings run on
// goroutines owned by the connection, so nothing that delivers events ever
// waits on a peer.
//
// Gateway.Shutdown closes every connection with 1001 and waits for their
// goroutines, so clients move to another hub and recover with join since.
package signaling
