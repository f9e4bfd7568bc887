package chat

// Event types sent from the hub to clients (PROTOCOL §3).
const (
	EventReply          = "reply"
	EventMessage        = "message"
	EventMessageEdited  = "message_edited"
	EventMessageDeleted = "message_deleted"
	EventTyping         = "typing"
	EventPresence       = "presence"
	EventLeft           = "left"
)

// Presence states.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// MessageEvent is a message, message_edited or message_deleted event.
type MessageEvent struct {
	Type    string  `json:"type"`
	Room    string  `json:"room"`
	Message Message `json:"message"`
}

// TypingEvent says another member started or stopped typing.
type TypingEvent struct {
	Type   string `json:"type"`
	Room   string `json:"room"`
	User   User   `json:"user"`
	Active bool   `json:"active"`
}

// PresenceEvent says a user's first connection joined, or last one left, a room.
type PresenceEvent struct {
	Type  string `json:"type"`
	Room  string `json:"room"`
	User  User   `json:"user"`
	State string `json:"state"`
}

// LeftEvent tells a connection it was removed from a room.
type LeftEvent struct {
	Type   string `json:"type"`
	Room   string `json:"room"`
	Reason string `json:"reason"`
}

// Reasons carried by LeftEvent.
const (
	LeftRemoved = "removed"
	LeftDeleted = "account_deleted"
)
