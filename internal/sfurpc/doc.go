// Package sfurpc is the SFU over NATS: the node side (Server) serves an
// SFU engine's operations on the bus, and the hub side (Client) finds the
// live nodes, places calls on them and relays each call operation to the
// node holding the call. The embedded SFU is reached the same way, over
// the in-process bus, so there is one code path.
//
// # What it owns
//
// The wire between hubs and SFU nodes: the request and reply shapes, the
// beats, the client frames an SFU sends a connection, and the mapping of
// engine errors to protocol codes. It declares the engine it serves
// (Engine, Reporter; SFU is both) with plain parameters; internal/sfu is
// adapted to it where the hub and cmd/sfu are wired. It knows nothing of
// rooms, calls or the store.
//
// # Subjects and messages
//
//	bus.SFUNode(node)  request/reply, one node (queue group "sfu")
//	  request {"op":"join"|"answer"|"candidate"|"publish"|"leave"|"end"|"stats",
//	           "call","peer","user","kind","sdp","candidate","source"}
//	  reply   {"ok":true,"participants":[CallParticipant]?}
//	          {"ok":false,"error":{"code","message"}}
//	bus.SFUBeats()     {"node","load":{"calls","peers","tracks","subscriptions"},"bye":false}
//	                   at start, every BeatInterval and in answer to a hello;
//	                   "bye":true once on Close. A Client sends {"hello":true}
//	                   when it starts (and after its own bus outage) so every
//	                   node announces itself at once.
//	bus.ConnRTC(peer)  client frames for one connection (peer id = connection id):
//	                   {"type":"rtc_offer","call_id","sdp"}
//	                   {"type":"rtc_candidate","call_id","candidate":RTCIceCandidateInit}
//
// Requests are validated before the engine sees them: an unknown op, a
// missing field, or a call or peer id that is not a subject token is
// bad_request. Engine errors are classified by ServerOptions.Classify
// (falling back to chat.AsError); internal ones go back as "internal
// error", their text logged on the node. On the Client every error is a
// *chat.Error: the node's code, or unavailable when the node does not
// answer within RequestTimeout, has no subscriber, or the bus is down.
//
// Placement: Place returns ClientOptions.Embedded when set; otherwise the
// live node with the fewest peers, then the fewest calls, then the
// smallest id; with none, unavailable "no SFU node". A node unheard for
// LostAfter (3 beats), or one that says bye, is forgotten and reported to
// OnNodeLost once; a later beat makes it live again. While the client's
// own bus is down, and for LostAfter after it is back, nobody is counted
// lost: the silence was the client's.
//
// # Concurrency contract
//
// The Server never runs the engine on the subscription goroutine. Requests
// for one peer run one after another in arrival order (a lane per peer,
// alive while it has work); requests for different peers, and end and
// stats, run concurrently. The engine must still serialize what it needs
// itself. Each engine call gets a context that ends after HandleTimeout or
// at Close. Signals are published from the engine's goroutine, in the
// order the engine makes them. Close stops taking requests, cancels and
// waits for those in flight, stops the beats and says bye; it does not
// close the engine.
//
// The Client's methods are safe for concurrent use and block at most
// RequestTimeout (or ctx). Its watch goroutine and OnNodeLost calls are
// owned by it; Close stops the one and waits for the others.
package sfurpc
