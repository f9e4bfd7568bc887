package rooms

import (
	"cmp"
	"slices"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// LocalConn is one of this hub's connections in a room, as operators see
// it.
type LocalConn struct {
	ID    string
	User  chat.User
	Since time.Time // when it joined the room
}

// LocalConnections reports how many local connections are in a room.
func (s *Service) LocalConnections(roomID string) int {
	rs := s.localState(roomID)
	if rs == nil {
		return 0
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(rs.members)
}

// LocalRoom lists this hub's connections in a room, by join time, then ID.
func (s *Service) LocalRoom(roomID string) []LocalConn {
	rs := s.localState(roomID)
	if rs == nil {
		return nil
	}
	return rs.localConns()
}

// LocalRooms lists this hub's connections in every room that has any.
func (s *Service) LocalRooms() map[string][]LocalConn {
	out := make(map[string][]LocalConn)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		states := make([]*roomState, 0, len(sh.rooms))
		for _, rs := range sh.rooms {
			states = append(states, rs)
		}
		sh.mu.Unlock()
		// Room locks are taken after the shard's is released: a snapshot
		// must never hold up joins to other rooms of the shard.
		for _, rs := range states {
			if conns := rs.localConns(); len(conns) > 0 {
				out[rs.id] = conns
			}
		}
	}
	return out
}

func (s *Service) localState(roomID string) *roomState {
	sh := s.shardFor(roomID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.rooms[roomID]
}

func (rs *roomState) localConns() []LocalConn {
	rs.mu.Lock()
	out := make([]LocalConn, 0, len(rs.members))
	for id, m := range rs.members {
		out = append(out, LocalConn{ID: id, User: m.conn.User(), Since: m.since})
	}
	rs.mu.Unlock()
	slices.SortFunc(out, func(a, b LocalConn) int {
		return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.ID, b.ID))
	})
	return out
}
