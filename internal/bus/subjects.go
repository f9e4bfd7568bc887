package bus

import (
	"strings"
	"unicode"
)

// Every subject the hub uses is built here, from the bus prefix. IDs passed in
// must be token-safe (see ValidToken); chat.NewID IDs always are.
//
//	<prefix>.room.<id>.msg   stored chat messages of a room (carry seq)
//	<prefix>.room.<id>.eph   typing and presence of a room (no seq, not stored)
//	<prefix>.room.<id>.ctl   control events of a room (membership changes, …)
//	<prefix>.user.<id>       events for every connection of one user
//	<prefix>.node.<id>       requests addressed to one hub node
//	<prefix>.nodes           broadcast to (or scatter-gather over) every hub
//	<prefix>.nodes.beat      each hub's periodic "I am alive" (and its goodbye)
//	<prefix>.user.<id>.ev    client frames for every connection of one user (call_ring)
//	<prefix>.conn.<id>.rtc   client frames from an SFU to one connection (rtc_offer, rtc_candidate)
//	<prefix>.sfu.beat        each SFU node's periodic announcement of itself and its load
//	<prefix>.sfu.node.<id>   requests addressed to one SFU node

// RoomMsg is the subject of a room's stored messages.
func (b *Bus) RoomMsg(roomID string) string { return b.prefix + ".room." + roomID + ".msg" }

// RoomEph is the subject of a room's ephemeral events (typing, presence).
func (b *Bus) RoomEph(roomID string) string { return b.prefix + ".room." + roomID + ".eph" }

// RoomCtl is the subject of a room's control events.
func (b *Bus) RoomCtl(roomID string) string { return b.prefix + ".room." + roomID + ".ctl" }

// User is the subject reaching every connection of one user, on any hub.
func (b *Bus) User(userID string) string { return b.prefix + ".user." + userID }

// UserEvents is the subject of client frames for every connection of one
// user, on any hub; the gateway hands them over as they are.
func (b *Bus) UserEvents(userID string) string { return b.prefix + ".user." + userID + ".ev" }

// ConnRTC is the subject of the frames an SFU node sends one client
// connection (rtc_offer, rtc_candidate).
func (b *Bus) ConnRTC(connID string) string { return b.prefix + ".conn." + connID + ".rtc" }

// SFUBeats is the subject of the SFU nodes' announcements (and goodbyes).
func (b *Bus) SFUBeats() string { return b.prefix + ".sfu.beat" }

// SFUNode is the subject of requests addressed to one SFU node.
func (b *Bus) SFUNode(nodeID string) string { return b.prefix + ".sfu.node." + nodeID }

// Node is the subject of requests addressed to one hub node.
func (b *Bus) Node(nodeID string) string { return b.prefix + ".node." + nodeID }

// Nodes is the subject every hub node listens on.
func (b *Bus) Nodes() string { return b.prefix + ".nodes" }

// NodeBeats is the subject of the hubs' liveness heartbeats.
func (b *Bus) NodeBeats() string { return b.prefix + ".nodes.beat" }

// Prefix is the subject prefix this bus was opened with.
func (b *Bus) Prefix() string { return b.prefix }

// ValidToken reports whether s can be used as one token of a subject: it is
// non-empty and holds no '.', '*', '>', whitespace or control characters.
// Callers building subjects from IDs they did not mint should check it.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r == '.' || r == '*' || r == '>':
			return false
		case unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar:
			return false
		}
	}
	return true
}

// validPrefix reports whether p is one or more valid tokens joined by dots.
func validPrefix(p string) bool {
	for _, tok := range strings.Split(p, ".") {
		if !ValidToken(tok) {
			return false
		}
	}
	return true
}

// validSubject reports whether subject is a well-formed subject. Wildcards
// ('*' as a whole token, '>' as the last token) are accepted only when
// wildcards is true (subscriptions); publishes need a literal subject.
func validSubject(subject string, wildcards bool) bool {
	if subject == "" {
		return false
	}
	toks := strings.Split(subject, ".")
	for i, tok := range toks {
		if wildcards && (tok == "*" || (tok == ">" && i == len(toks)-1)) {
			continue
		}
		if !ValidToken(tok) {
			return false
		}
	}
	return true
}
