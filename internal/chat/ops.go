package chat

import "time"

// RoomStats is one row of the operators' room list (PROTOCOL §2 Ops).
type RoomStats struct {
	Room               Room  `json:"room"`
	OnlineUsers        int   `json:"online_users"`
	Connections        int   `json:"connections"`
	MessagesLastMinute int64 `json:"messages_last_minute"`
	CallParticipants   int   `json:"call_participants"`
	Streams            int   `json:"streams"`
}

// RoomDetail is the operators' view of one room across every node.
type RoomDetail struct {
	Room               Room         `json:"room"`
	Online             []OnlineUser `json:"online"`
	Call               *CallInfo    `json:"call"`
	Streams            []StreamInfo `json:"streams"`
	MessagesLastMinute int64        `json:"messages_last_minute"`
	LastSeq            int64        `json:"last_seq"`
	Nodes              []NodeStatus `json:"nodes"` // addition: who answered
}

// OnlineUser is a user with their connections in one room.
type OnlineUser struct {
	User        User             `json:"user"`
	Connections []ConnectionInfo `json:"connections"`
}

// ConnectionInfo is one client connection: its ID, the node that holds it
// and when it joined the room.
type ConnectionInfo struct {
	ID    string    `json:"id"`
	Node  string    `json:"node"`
	Since time.Time `json:"since"`
}

// CallInfo is a room's call as operators see it.
type CallInfo struct {
	ID           string            `json:"id"`
	SFUNode      string            `json:"sfu_node"`
	Participants []CallParticipant `json:"participants"`
}

// CallParticipant is one participant of a call with their tracks.
type CallParticipant struct {
	User   User        `json:"user"`
	Tracks []TrackInfo `json:"tracks"`
}

// TrackInfo is one published media track.
type TrackInfo struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Source      string `json:"source"`
	BitrateKbps int    `json:"bitrate_kbps"`
	Packets     int64  `json:"packets"`
}

// StreamInfo is an AI reply in flight.
type StreamInfo struct {
	ID        string    `json:"id"`
	Bot       User      `json:"bot"`
	StartedAt time.Time `json:"started_at"`
	Chars     int       `json:"chars"`
}

// NodeStatus says whether a hub node answered an operator's question in
// time. Status is "ok" or "unreachable".
type NodeStatus struct {
	Node   string `json:"node"`
	Status string `json:"status"`
}

// Node statuses.
const (
	NodeOK          = "ok"
	NodeUnreachable = "unreachable"
)

// RoomActivity is a room with the number of messages stored in it since
// some time.
type RoomActivity struct {
	Room          Room
	MessagesSince int64
}
