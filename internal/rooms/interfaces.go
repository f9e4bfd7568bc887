package rooms

import (
	"context"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// RoomStore reads and creates rooms.
type RoomStore interface {
	CreateRoom(ctx context.Context, r chat.Room, owner string, members []string, directKey string) error
	DirectRoom(ctx context.Context, directKey string) (chat.Room, error)
	Room(ctx context.Context, id string) (chat.Room, error)
	RoomsFor(ctx context.Context, userID string) ([]chat.Room, error)
	LastSeqs(ctx context.Context, roomIDs []string) (map[string]int64, error)
}

// MemberStore reads and changes room membership.
type MemberStore interface {
	Members(ctx context.Context, roomID string) ([]chat.Member, error)
	MemberRole(ctx context.Context, roomID, userID string) (chat.MemberRole, error)
	AddMember(ctx context.Context, roomID, userID string, role chat.MemberRole) error
	RemoveMember(ctx context.Context, roomID, userID string) error
}

// MessageStore appends and reads messages. AppendMessage's commit is the
// acknowledgement of a send.
type MessageStore interface {
	AppendMessage(ctx context.Context, m chat.Message) (chat.Message, bool, error)
	Messages(ctx context.Context, roomID string, q chat.HistoryQuery) ([]chat.Message, bool, error)
	MessageBySeq(ctx context.Context, roomID string, seq int64) (chat.Message, error)
	MessageByClientID(ctx context.Context, roomID, fromID, clientMsgID string) (chat.Message, error)
	EditMessage(ctx context.Context, roomID string, seq int64, text string, at time.Time) (chat.Message, error)
	DeleteMessage(ctx context.Context, roomID string, seq int64, at time.Time) (chat.Message, error)
}

// AccountStore looks up users named in requests.
type AccountStore interface {
	Account(ctx context.Context, id string) (chat.Account, error)
}

// Store is everything the service keeps durably.
type Store interface {
	RoomStore
	MemberStore
	MessageStore
	AccountStore
}

// Subscription is a live bus subscription.
type Subscription interface {
	Unsubscribe() error
}

// Bus carries room events between hubs. fn runs serially per
// subscription, in publish order. Flush returns once every subscription
// made before it is registered with the bus, so nothing published after
// Flush returns can be missed.
type Bus interface {
	Publish(ctx context.Context, subject string, data []byte) error
	Subscribe(subject string, fn func(data []byte)) (Subscription, error)
	Flush(ctx context.Context) error
	RoomMsg(roomID string) string
	RoomEph(roomID string) string
	RoomCtl(roomID string) string
}

// Presence tracks which users have connections in which rooms.
type Presence interface {
	Join(ctx context.Context, room string, u chat.User, connID string) (first bool, err error)
	Leave(ctx context.Context, room, userID, connID string) (last bool, err error)
	Online(ctx context.Context, room string) ([]chat.User, error)
}

// Limiter allows at most limit events per key in any window.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// Metrics receives the service's counters. Implementations must be safe
// for concurrent use.
type Metrics interface {
	MessageStored(latency time.Duration)
	EventsDelivered(n int)
	PublishFailed()
	GapRepaired(messages int)
	RoomsActive(delta int)
}

// Conn is one client connection as the service sees it.
type Conn interface {
	ID() string
	User() chat.User
	// Deliver hands one encoded event to the connection. It must not
	// block; a connection that cannot keep up drops itself.
	Deliver(frame []byte)
	// Removed tells the connection the server took it out of a room
	// (after its "left" event was delivered).
	Removed(roomID string)
	// Overflowed tells the connection it fell too far behind to be served
	// in order; it must close itself as a slow consumer.
	Overflowed()
}
