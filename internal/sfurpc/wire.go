package sfurpc

import (
	"encoding/json"

	"github.com/pawfect/hub/internal/chat"
)

// Ops of a request to a node.
const (
	opJoin      = "join"
	opAnswer    = "answer"
	opCandidate = "candidate"
	opPublish   = "publish"
	opLeave     = "leave"
	opEnd       = "end"
	opStats     = "stats"
)

// Media kinds a peer may join with.
const (
	KindVideo = "video"
	KindAudio = "audio"
)

// request is the body of a request on bus.SFUNode(node).
type request struct {
	Op        string          `json:"op"`
	Call      string          `json:"call"`
	Peer      string          `json:"peer,omitempty"`
	User      string          `json:"user,omitempty"`
	Kind      string          `json:"kind,omitempty"`
	SDP       string          `json:"sdp,omitempty"`
	Candidate json.RawMessage `json:"candidate,omitempty"`
	Source    string          `json:"source,omitempty"`
}

// reply is a node's answer to a request.
type reply struct {
	OK           bool                   `json:"ok"`
	Error        *wireError             `json:"error,omitempty"`
	Participants []chat.CallParticipant `json:"participants,omitempty"`
}

type wireError struct {
	Code    chat.Code `json:"code"`
	Message string    `json:"message"`
}

// beat is a node's announcement on bus.SFUBeats(): every BeatInterval,
// at once when asked by a hello, and once with Bye when it stops.
type beat struct {
	Node  string `json:"node,omitempty"`
	Load  *Load  `json:"load,omitempty"`
	Bye   bool   `json:"bye"`
	Hello bool   `json:"hello,omitempty"` // from a client: every node, announce yourself now
}

// Client frames published on bus.ConnRTC(peer), handed to the connection
// as they are (PROTOCOL §3, §5).
type offerFrame struct {
	Type   string `json:"type"` // "rtc_offer"
	CallID string `json:"call_id"`
	SDP    string `json:"sdp"`
}

type candidateFrame struct {
	Type      string          `json:"type"` // "rtc_candidate"
	CallID    string          `json:"call_id"`
	Candidate json.RawMessage `json:"candidate"`
}

type closedFrame struct {
	Type   string `json:"type"` // "rtc_closed"
	CallID string `json:"call_id"`
	Reason string `json:"reason"`
}

// Client frame types.
const (
	FrameOffer     = "rtc_offer"
	FrameCandidate = "rtc_candidate"
	// FrameClosed (an addition to PROTOCOL §3) tells a client the SFU
	// closed its peer connection because the connection failed.
	FrameClosed = "rtc_closed"
)

// ClosedReasonFailed is FrameClosed's reason when ICE or DTLS failed.
const ClosedReasonFailed = "connection_failed"
