package calls

import (
	"context"
	"encoding/json"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Store keeps the call rows every hub shares (store/sqlite, store/postgres;
// contract in storetest.CallStore). UpdateCall is optimistic: it stores
// only if the row is still at expect, else chat.ErrCallChanged.
type Store interface {
	CreateCall(ctx context.Context, c chat.CallRecord) (chat.CallRecord, error)
	LiveCall(ctx context.Context, roomID string) (chat.CallRecord, error)
	CallByID(ctx context.Context, id string) (chat.CallRecord, error)
	UpdateCall(ctx context.Context, c chat.CallRecord, expect int64) (chat.CallRecord, error)
	LiveCalls(ctx context.Context) ([]chat.CallRecord, error)
}

// SFU reaches the SFU nodes (sfurpc.Client, over NATS, the embedded node
// included). Place picks the node for a new call; every other method
// addresses the node holding the call. The peer ID is the connection ID.
// Errors are *chat.Error values (not_found, bad_request, conflict,
// too_large, unavailable).
type SFU interface {
	Place(ctx context.Context) (node string, err error)
	Join(ctx context.Context, node, call, peer, user, kind string) error
	Answer(ctx context.Context, node, call, peer, sdp string) error
	Candidate(ctx context.Context, node, call, peer string, cand json.RawMessage) error
	Publish(ctx context.Context, node, call, peer, source string) error
	Leave(ctx context.Context, node, call, peer string) error
	End(ctx context.Context, node, call string) error
}

// Inspector reads a call's live media from its SFU node: one entry per
// peer with its tracks (User.ID set at least).
type Inspector interface {
	Stats(ctx context.Context, node, call string) ([]chat.CallParticipant, error)
}

// Rooms answers who may call in a room and reaches its connections.
type Rooms interface {
	// CanJoin returns the room if u may join it (visibility, public or
	// member), else a *chat.Error (not_found, forbidden).
	CanJoin(ctx context.Context, u chat.User, roomID string) (chat.Room, error)
	Members(ctx context.Context, roomID string) ([]chat.Member, error)
	// Broadcast hands frame to every joined connection of the room on
	// every hub.
	Broadcast(ctx context.Context, roomID string, frame []byte) error
}

// Users reaches every connection of one user, on every hub.
type Users interface {
	DeliverToUser(ctx context.Context, userID string, frame []byte) error
}

// Subscription is a live bus subscription.
type Subscription interface {
	Unsubscribe() error
}

// Bus carries the SFU's frames for one connection (rtc_offer,
// rtc_candidate) from whichever node sends them.
type Bus interface {
	Subscribe(subject string, fn func(data []byte)) (Subscription, error)
	ConnRTC(connID string) string
}

// Conn is one client connection as the service sees it.
type Conn interface {
	ID() string
	User() chat.User
	// Deliver hands one encoded frame to the connection; it must not block.
	Deliver(frame []byte)
}

// Limiter allows at most limit events per key in any window (the hub's
// shared rate limiter).
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}
