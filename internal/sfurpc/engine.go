package sfurpc

import (
	"context"
	"encoding/json"

	"github.com/pawfect/hub/internal/chat"
)

// Engine is the forwarding engine a Server drives: internal/sfu's SFU,
// through a thin adapter that keeps these parameters plain. Its methods
// may be called concurrently, for different peers and for the same one:
// the engine serializes what must be (negotiation per peer). Errors are
// the engine's own; ServerOptions.Classify turns them into protocol codes.
type Engine interface {
	// Join creates peer (a connection id) in call for user, with media
	// kind "video" or "audio", and sends it the first offer through
	// signal. The engine keeps signal and calls it, from any goroutine,
	// for every later offer and local candidate of that peer, in the
	// order they are to reach the client.
	Join(ctx context.Context, call, peer, user, kind string, signal func(Signal)) error
	// Answer applies the client's SDP answer to the pending offer.
	Answer(ctx context.Context, call, peer, sdp string) error
	// Candidate adds a remote ICE candidate (browser RTCIceCandidateInit JSON).
	Candidate(ctx context.Context, call, peer string, cand json.RawMessage) error
	// Publish readies the peer to send source: camera, microphone or screen.
	Publish(ctx context.Context, call, peer, source string) error
	// Leave removes the peer; the others renegotiate.
	Leave(ctx context.Context, call, peer string) error
	// End closes every peer of call. Ending an unknown call is not an error.
	End(ctx context.Context, call string) error
}

// Reporter is what a Server reads of the engine without changing it:
// inspection of one call, and the load announced in every beat. Both are
// called often and must be cheap.
type Reporter interface {
	Stats(call string) ([]chat.CallParticipant, error)
	Load() Load
}

// SFU is everything a Server needs of the engine.
type SFU interface {
	Engine
	Reporter
}

// Signal types.
const (
	SignalOffer     = "offer"
	SignalCandidate = "candidate"
	// SignalClosed says the engine closed the peer by itself (its
	// connection failed); nothing follows it.
	SignalClosed = "closed"
)

// Signal is one message from the engine to a peer's client: an SDP offer,
// or one local ICE candidate (RTCIceCandidateInit JSON; null at the end of
// gathering, if the engine sends that).
type Signal struct {
	Type      string          // SignalOffer, SignalCandidate or SignalClosed
	SDP       string          // offers
	Candidate json.RawMessage // candidates
}

// Load is an SFU node's current work, announced in its beats; placement
// prefers the node with the fewest peers, then the fewest calls.
type Load struct {
	Calls         int `json:"calls"`
	Peers         int `json:"peers"`
	Tracks        int `json:"tracks"`
	Subscriptions int `json:"subscriptions"`
}
