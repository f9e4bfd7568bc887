package chat

import (
	"encoding/json"
	"time"
)

// Role is a user's account kind.
type Role string

// Account roles, as in PROTOCOL §2.
const (
	RoleAdmin Role = "admin"
	RoleUser  Role = "user"
	RoleGuest Role = "guest"
	RoleBot   Role = "bot"
)

// User is the public view of an account.
type User struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	Role        Role   `json:"role"`
}

// RoomKind says who may see and join a room.
type RoomKind string

// Room kinds.
const (
	KindPublic  RoomKind = "public"
	KindPrivate RoomKind = "private"
	KindDirect  RoomKind = "direct"
)

// Valid reports whether k is one of the known kinds.
func (k RoomKind) Valid() bool {
	return k == KindPublic || k == KindPrivate || k == KindDirect
}

// AIConfig configures streamed AI replies in a room (PROTOCOL §4).
type AIConfig struct {
	Models       []string `json:"models"`
	SystemPrompt string   `json:"system_prompt,omitempty"`
	Trigger      string   `json:"trigger"`
}

// Room is a chat room. LastSeq is the seq of the newest message in it.
type Room struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Kind      RoomKind  `json:"kind"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	LastSeq   int64     `json:"last_seq"`
	AI        *AIConfig `json:"ai"`
}

// MemberRole is a member's standing in a room.
type MemberRole string

// Member roles.
const (
	MemberOwner  MemberRole = "owner"
	MemberMember MemberRole = "member"
)

// Member is one entry of a room's member list.
type Member struct {
	User User       `json:"user"`
	Role MemberRole `json:"role"`
}

// Message is one stored chat message. Seq is gapless per room, from 1.
type Message struct {
	ID          string          `json:"id"`
	Room        string          `json:"room"`
	Seq         int64           `json:"seq"`
	From        User            `json:"from"`
	Text        string          `json:"text"`
	ClientMsgID string          `json:"client_msg_id,omitempty"`
	ReplyTo     *int64          `json:"reply_to,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	EditedAt    *time.Time      `json:"edited_at,omitempty"`
	Deleted     bool            `json:"deleted,omitempty"`
	Meta        json.RawMessage `json:"meta,omitempty"`
}

// HistoryQuery selects a page of a room's messages (PROTOCOL §2). A zero
// BeforeSeq means no upper bound. AfterSeq is a lower bound when it is
// above 0 or when After is set: "after seq 0" (the oldest first) is not the
// same page as "no bound" (the latest). Limit must already be clamped by
// the caller.
type HistoryQuery struct {
	BeforeSeq int64
	AfterSeq  int64
	After     bool
	Limit     int
}

// HasAfter reports whether the query has a lower bound.
func (q HistoryQuery) HasAfter() bool { return q.After || q.AfterSeq > 0 }

// Now is the hub's clock reading for stored times: UTC, truncated to
// microseconds so that every store round-trips it exactly.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Account is a stored user with what only the server sees.
type Account struct {
	User         User
	PasswordHash string // empty for guests and bots
	CreatedBy    string // creator of a bot; empty otherwise
	CreatedAt    time.Time
}
