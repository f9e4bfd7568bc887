package presence

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Conn is one connection present in a room.
type Conn struct {
	ID     string    `json:"id"`
	UserID string    `json:"user_id"`
	Node   string    `json:"node"`
	Since  time.Time `json:"since"`
}

// ErrBadArgument is wrapped when a room, user or connection ID is empty.
var ErrBadArgument = errors.New("empty id")

const shardCount = 64

// Memory is the in-process presence backend. The zero value is not usable;
// call NewMemory.
type Memory struct {
	node   string
	now    func() time.Time
	seed   maphash.Seed
	shards [shardCount]shard
}

// shard holds the rooms whose ID hashes to it.
type shard struct {
	mu    sync.Mutex       // guards rooms and every room reachable from it
	rooms map[string]*room // room ID → room; a room with no connections is removed
}

// room is the presence of one room. Guarded by its shard's mu.
type room struct {
	users map[string]*userConns // user ID → that user's connections
	conns map[string]string     // connection ID → user ID
}

// userConns is one user's connections in one room.
type userConns struct {
	user  chat.User
	conns map[string]Conn // connection ID → Conn
}

// NewMemory returns an empty in-process presence tracker; node is recorded
// as Conn.Node for every connection it tracks.
func NewMemory(node string) *Memory {
	m := &Memory{node: node, now: time.Now, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].rooms = make(map[string]*room)
	}
	return m
}

func (m *Memory) shard(roomID string) *shard {
	return &m.shards[maphash.String(m.seed, roomID)%shardCount]
}

func check(ctx context.Context, op string, ids ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("presence: %s: %w", op, err)
	}
	for _, id := range ids {
		if id == "" {
			return fmt.Errorf("presence: %s: %w", op, ErrBadArgument)
		}
	}
	return nil
}

// Join records connID of user u in the room. first reports whether this is
// the user's first connection there. Joining again with the same connID
// changes nothing but the stored user and returns first=false.
func (m *Memory) Join(ctx context.Context, roomID string, u chat.User, connID string) (first bool, err error) {
	if err := check(ctx, "join", roomID, u.ID, connID); err != nil {
		return false, err
	}
	now := m.now()
	s := m.shard(roomID)
	s.mu.Lock()
	defer s.mu.Unlock()

	r := s.rooms[roomID]
	if r == nil {
		r = &room{users: make(map[string]*userConns), conns: make(map[string]string)}
		s.rooms[roomID] = r
	}
	if owner, ok := r.conns[connID]; ok && owner != u.ID {
		return false, fmt.Errorf("presence: join: connection %s already belongs to another user: %w", connID, chat.ErrConflict)
	}
	uc := r.users[u.ID]
	if uc == nil {
		uc = &userConns{conns: make(map[string]Conn)}
		r.users[u.ID] = uc
		first = true
	}
	uc.user = u
	if _, ok := uc.conns[connID]; !ok {
		uc.conns[connID] = Conn{ID: connID, UserID: u.ID, Node: m.node, Since: now}
		r.conns[connID] = u.ID
	}
	return first, nil
}

// Leave removes connID of userID from the room. last reports whether that
// was the user's last connection there. An unknown room, user or connection
// is not an error and returns last=false.
func (m *Memory) Leave(ctx context.Context, roomID, userID, connID string) (last bool, err error) {
	if err := check(ctx, "leave", roomID, userID, connID); err != nil {
		return false, err
	}
	s := m.shard(roomID)
	s.mu.Lock()
	defer s.mu.Unlock()

	r := s.rooms[roomID]
	if r == nil {
		return false, nil
	}
	uc := r.users[userID]
	if uc == nil {
		return false, nil
	}
	if _, ok := uc.conns[connID]; !ok {
		return false, nil
	}
	delete(uc.conns, connID)
	delete(r.conns, connID)
	if len(uc.conns) > 0 {
		return false, nil
	}
	delete(r.users, userID)
	if len(r.users) == 0 {
		delete(s.rooms, roomID)
	}
	return true, nil
}

// Online lists the users with at least one connection in the room, sorted
// by user ID.
func (m *Memory) Online(ctx context.Context, roomID string) ([]chat.User, error) {
	if err := check(ctx, "online", roomID); err != nil {
		return nil, err
	}
	s := m.shard(roomID)
	s.mu.Lock()
	r := s.rooms[roomID]
	var users []chat.User
	if r != nil {
		users = make([]chat.User, 0, len(r.users))
		for _, uc := range r.users {
			users = append(users, uc.user)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(users, func(a, b chat.User) int { return cmp.Compare(a.ID, b.ID) })
	return users, nil
}

// Connections lists every connection in the room, sorted by user ID, then
// by Since, then by connection ID.
func (m *Memory) Connections(ctx context.Context, roomID string) ([]Conn, error) {
	if err := check(ctx, "connections", roomID); err != nil {
		return nil, err
	}
	s := m.shard(roomID)
	s.mu.Lock()
	r := s.rooms[roomID]
	var conns []Conn
	if r != nil {
		conns = make([]Conn, 0, len(r.conns))
		for _, uc := range r.users {
			for _, c := range uc.conns {
				conns = append(conns, c)
			}
		}
	}
	s.mu.Unlock()
	SortConns(conns)
	return conns, nil
}

// SortConns sorts connections by user ID, then Since, then ID: the order
// Connections returns.
func SortConns(conns []Conn) {
	slices.SortFunc(conns, func(a, b Conn) int {
		return cmp.Or(cmp.Compare(a.UserID, b.UserID), a.Since.Compare(b.Since), cmp.Compare(a.ID, b.ID))
	})
}
