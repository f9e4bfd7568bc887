package chat

import (
	"errors"
	"time"
)

// Call event types (PROTOCOL §3, §5).
const (
	EventCallState    = "call_state"
	EventCallRing     = "call_ring"
	EventRTCOffer     = "rtc_offer"
	EventRTCCandidate = "rtc_candidate"
)

// CallKind says which media a call carries.
type CallKind string

// Call kinds.
const (
	CallVideo CallKind = "video"
	CallAudio CallKind = "audio"
)

// Valid reports whether k is one of the known kinds.
func (k CallKind) Valid() bool { return k == CallVideo || k == CallAudio }

// CallState is where a call stands.
type CallState string

// Call states. A direct call rings until the other member joins; a group
// call is active from the start. Ended is final.
const (
	CallRinging CallState = "ringing"
	CallActive  CallState = "active"
	CallEnded   CallState = "ended"
)

// Why a call ended (Call.EndedReason).
const (
	CallEndEnded    = "ended"    // the last participant of a group call left
	CallEndLeft     = "left"     // one side of a direct call left or hung up
	CallEndDeclined = "declined" // the callee declined a ringing direct call
	CallEndTimeout  = "timeout"  // nobody answered (or joined) within the ring timeout
	CallEndSFULost  = "sfu_lost" // the SFU node hosting the call died
	CallEndHubLost  = "hub_lost" // the hub holding a direct call's side died
)

// Media sources a participant publishes (call_publish).
const (
	SourceCamera     = "camera"
	SourceMicrophone = "microphone"
	SourceScreen     = "screen"
)

// ValidSource reports whether s is one of the known media sources.
func ValidSource(s string) bool {
	return s == SourceCamera || s == SourceMicrophone || s == SourceScreen
}

// Call is a call as clients see it: PROTOCOL's CallState, plus when and
// why it ended once it has.
type Call struct {
	ID           string     `json:"id"`
	Room         string     `json:"room"`
	Kind         CallKind   `json:"kind"`
	State        CallState  `json:"state"`
	Participants []User     `json:"participants"`
	StartedAt    time.Time  `json:"started_at"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	EndedReason  string     `json:"ended_reason,omitempty"`
	// Version grows with every change of the call. call_state events
	// from different hubs may arrive out of order; a client keeps the
	// highest version it saw.
	Version int64 `json:"version,omitempty"`
}

// CallStateEvent tells a room a call started, changed participants or ended.
type CallStateEvent struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Call Call   `json:"call"`
}

// CallRingEvent tells the callee's connections that From is calling.
type CallRingEvent struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Call Call   `json:"call"`
	From User   `json:"from"`
}

// ICEServer is one entry of call_join's ice_servers, in the browser's
// RTCIceServer shape. TURN servers carry time-limited credentials.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// CallRecord is a call as the store keeps it: one row per call, shared by
// every hub. Version increases by one with every stored change, so two
// hubs changing the same call cannot both succeed.
type CallRecord struct {
	ID          string
	Room        string
	Kind        CallKind
	State       CallState
	SFUNode     string // the SFU node holding the call's media
	StartedBy   string // user ID
	StartedAt   time.Time
	EndedAt     time.Time // zero while live
	EndedReason string
	// RingUntil is when an unanswered call (ringing, or live with nobody
	// in it) times out; zero once that no longer applies.
	RingUntil    time.Time
	Invited      []string     // user IDs rung (direct calls)
	Participants []CallMember // in join order
	Version      int64
}

// CallMember is one participant: a user on one connection held by one hub.
// The connection ID is also the participant's peer ID on the SFU.
type CallMember struct {
	User     User      `json:"user"`
	Conn     string    `json:"conn"`
	Hub      string    `json:"hub"`
	JoinedAt time.Time `json:"joined_at"`
}

// Live reports whether the call has not ended.
func (r CallRecord) Live() bool { return r.State != CallEnded }

// Call is the record as clients see it.
func (r CallRecord) Call() Call {
	c := Call{
		ID:           r.ID,
		Room:         r.Room,
		Kind:         r.Kind,
		State:        r.State,
		Participants: make([]User, 0, len(r.Participants)),
		StartedAt:    r.StartedAt,
		EndedReason:  r.EndedReason,
		Version:      r.Version,
	}
	seen := make(map[string]bool, len(r.Participants))
	for _, m := range r.Participants {
		// A user is in a call once, but guard the wire shape anyway.
		if !seen[m.User.ID] {
			seen[m.User.ID] = true
			c.Participants = append(c.Participants, m.User)
		}
	}
	if !r.EndedAt.IsZero() {
		t := r.EndedAt
		c.EndedAt = &t
	}
	return c
}

// ErrCallChanged is returned by a store's UpdateCall when the call's
// stored version is not the one the caller read: someone else changed it
// first, and the caller should read it again and redo its change.
var ErrCallChanged = errors.New("call changed concurrently")
