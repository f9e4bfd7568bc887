package presence

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pawfect/hub/internal/chat"
)

// Defaults of the Redis backend's options.
const (
	DefaultPrefix            = "hub"
	DefaultTTL               = 30 * time.Second
	DefaultHeartbeatInterval = 10 * time.Second
)

// Redis is the presence backend shared by every hub that uses the same
// Redis and key prefix. Create it with NewRedis and stop it with Close.
//
// Each connection's entry carries a deadline TTL ahead; a heartbeat
// goroutine moves the deadline of every connection this node still has, so
// the connections of a hub that stops (crashes, loses Redis) expire within
// TTL and are never listed again. Join and Leave decide first and last in
// one Lua script over the room's keys, so two hubs joining or leaving the
// same user at once see exactly one first and one last.
type Redis struct {
	client   redis.UniversalClient
	node     string
	prefix   string
	ttl      time.Duration
	interval time.Duration
	log      *slog.Logger
	onReturn func(ctx context.Context, room string, u chat.User)

	local *localConns // this node's live connections, for the heartbeat

	cancel    context.CancelFunc // ends the heartbeat's context
	done      sync.WaitGroup     // the heartbeat goroutine
	closeOnce sync.Once
}

// Option configures NewRedis.
type Option func(*redisOptions)

type redisOptions struct {
	prefix   string
	ttl      time.Duration
	interval time.Duration
	log      *slog.Logger
	onReturn func(ctx context.Context, room string, u chat.User)
}

// WithOnReturn sets fn to be called, on the heartbeat goroutine, for each
// user the heartbeat put back into a room's presence as its first
// connection there: Redis had lost them (a restart), or other nodes had
// reaped this one as lost while it was only cut off from them. Others may
// have been told the user went offline, so the caller announces them
// online again.
func WithOnReturn(fn func(ctx context.Context, room string, u chat.User)) Option {
	return func(o *redisOptions) { o.onReturn = fn }
}

// WithPrefix sets the prefix of every key (default DefaultPrefix). Hubs that
// form one service must share it; others must not.
func WithPrefix(p string) Option { return func(o *redisOptions) { o.prefix = p } }

// WithTTL sets how long a connection stays listed after its node last
// refreshed it (default DefaultTTL).
func WithTTL(d time.Duration) Option { return func(o *redisOptions) { o.ttl = d } }

// WithHeartbeatInterval sets how often the node refreshes its connections
// (default DefaultHeartbeatInterval); it must be shorter than the TTL.
func WithHeartbeatInterval(d time.Duration) Option {
	return func(o *redisOptions) { o.interval = d }
}

// WithLogger sets where heartbeat failures are reported (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *redisOptions) { o.log = l } }

// NewRedis returns a presence tracker in Redis; node is recorded as
// Conn.Node for the connections joined through it. It starts the heartbeat
// goroutine; Close stops it. The client stays the caller's: Close does not
// close it. NewRedis does not contact Redis.
func NewRedis(client redis.UniversalClient, node string, opts ...Option) (*Redis, error) {
	o := redisOptions{prefix: DefaultPrefix, ttl: DefaultTTL, interval: DefaultHeartbeatInterval}
	for _, fn := range opts {
		fn(&o)
	}
	switch {
	case client == nil:
		return nil, errors.New("presence: redis: nil client")
	case node == "":
		return nil, fmt.Errorf("presence: redis: node: %w", ErrBadArgument)
	case o.prefix == "":
		return nil, fmt.Errorf("presence: redis: prefix: %w", ErrBadArgument)
	case o.ttl < time.Millisecond:
		return nil, fmt.Errorf("presence: redis: TTL %s: want at least 1ms", o.ttl)
	case o.interval <= 0 || o.interval >= o.ttl:
		return nil, fmt.Errorf("presence: redis: heartbeat interval %s: want more than 0 and less than the TTL %s", o.interval, o.ttl)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	r := &Redis{
		client: client, node: node, prefix: o.prefix, ttl: o.ttl, interval: o.interval, log: o.log,
		onReturn: o.onReturn, local: newLocalConns(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done.Add(1)
	go r.heartbeat(ctx)
	return r, nil
}

// Close stops the heartbeat and waits for it. It leaves this node's
// entries in Redis: they expire within the TTL, as a crashed node's would
// (the hub leaves its connections' rooms before closing). It does not
// close the client. It is safe to call more than once; Join and Leave keep
// working after it, unrefreshed.
func (r *Redis) Close() {
	r.closeOnce.Do(r.cancel)
	r.done.Wait()
}

func (r *Redis) keys(roomID string) []string { return roomKeys(r.prefix, roomID) }

func (r *Redis) ttlMS() int64 { return max(r.ttl.Milliseconds(), 1) }

// Join records connID of user u in the room. first reports whether this is
// the user's first connection there on any node. Joining again with the
// same connID changes nothing but the stored user (and the deadline) and
// returns first=false.
func (r *Redis) Join(ctx context.Context, roomID string, u chat.User, connID string) (first bool, err error) {
	if err := check(ctx, "join", roomID, u.ID, connID); err != nil {
		return false, err
	}
	uj, err := json.Marshal(u)
	if err != nil {
		return false, fmt.Errorf("presence: join: encode user: %w", err)
	}
	res, err := r.join(ctx, roomID, u.ID, uj, connID, "join")
	if err != nil {
		return false, fmt.Errorf("presence: join: redis: %w", err)
	}
	if res == resultConflict {
		return false, fmt.Errorf("presence: join: connection %s already belongs to another user: %w", connID, chat.ErrConflict)
	}
	// Only once Redis has the entry does the heartbeat refresh it.
	if r.local.add(roomID, connID, u.ID, uj) {
		if err := r.noteRoom(ctx, roomID); err != nil {
			// Only reaping after a crash needs it, and the next heartbeat
			// writes it again.
			r.log.WarnContext(ctx, "presence: join: note this node's room", "room", roomID, "err", err)
		}
	}
	return res == 1, nil
}

func (r *Redis) join(ctx context.Context, roomID, userID string, userJSON []byte, connID, mode string) (int64, error) {
	return joinScript.Run(ctx, r.client, r.keys(roomID), connID, userID, userJSON, r.node, r.ttlMS(), mode).Int64()
}

// Leave removes connID of userID from the room. last reports whether the
// user has no connection left there on any node. An unknown room, user or
// connection is not an error and returns last=false.
func (r *Redis) Leave(ctx context.Context, roomID, userID, connID string) (last bool, err error) {
	if err := check(ctx, "leave", roomID, userID, connID); err != nil {
		return false, err
	}
	// Forget the connection before removing it, so the heartbeat stops
	// refreshing it; one already in flight is refused by the gone mark.
	r.local.remove(roomID, connID, userID)
	res, err := leaveScript.Run(ctx, r.client, r.keys(roomID), connID, userID, r.ttlMS()).Int64()
	if err != nil {
		return false, fmt.Errorf("presence: leave: redis: %w", err)
	}
	return res == 1, nil
}

// Online lists the users with at least one live connection in the room on
// any node, sorted by user ID.
func (r *Redis) Online(ctx context.Context, roomID string) ([]chat.User, error) {
	if err := check(ctx, "online", roomID); err != nil {
		return nil, err
	}
	vals, err := onlineScript.Run(ctx, r.client, r.keys(roomID)).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("presence: online: redis: %w", err)
	}
	var users []chat.User
	if len(vals) > 0 {
		users = make([]chat.User, 0, len(vals))
	}
	for _, v := range vals {
		var u chat.User
		if err := json.Unmarshal([]byte(v), &u); err != nil {
			return nil, fmt.Errorf("presence: online: decode user %q: %w", v, err)
		}
		users = append(users, u)
	}
	slices.SortFunc(users, func(a, b chat.User) int { return cmp.Compare(a.ID, b.ID) })
	return users, nil
}

// connInfo is a connection's entry in the room's info hash (the scripts
// write it with cjson).
type connInfo struct {
	User  string  `json:"u"`
	Node  string  `json:"n"`
	Since float64 `json:"s"` // ms since the epoch, Redis clock
}

// Connections lists every live connection in the room on any node, sorted
// by user ID, then by Since, then by connection ID.
func (r *Redis) Connections(ctx context.Context, roomID string) ([]Conn, error) {
	if err := check(ctx, "connections", roomID); err != nil {
		return nil, err
	}
	vals, err := connectionsScript.Run(ctx, r.client, r.keys(roomID)).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("presence: connections: redis: %w", err)
	}
	var conns []Conn
	if len(vals) > 0 {
		conns = make([]Conn, 0, len(vals)/2)
	}
	for i := 0; i+1 < len(vals); i += 2 {
		var ci connInfo
		if err := json.Unmarshal([]byte(vals[i+1]), &ci); err != nil {
			return nil, fmt.Errorf("presence: connections: decode %q: %w", vals[i+1], err)
		}
		conns = append(conns, Conn{ID: vals[i], UserID: ci.User, Node: ci.Node, Since: time.UnixMilli(int64(ci.Since)).UTC()})
	}
	SortConns(conns)
	return conns, nil
}
