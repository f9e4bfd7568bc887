package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Windows of PROTOCOL §2 Ops.
const (
	activeWindow = time.Hour   // a room with a message this recent is listed
	countWindow  = time.Minute // messages_last_minute
)

// Room is the operators' view of one room across every node. An unknown
// room is chat.CodeNotFound.
func (s *Service) Room(ctx context.Context, roomID string) (chat.RoomDetail, error) {
	// The store and the other nodes are asked at once: an answer takes the
	// longer of the two, not their sum.
	type stored struct {
		a   chat.RoomActivity
		err error
	}
	fromStore := make(chan stored, 1)
	go func() {
		a, err := s.store.RoomActivity(ctx, roomID, s.opts.Now().Add(-countWindow))
		fromStore <- stored{a, err}
	}()
	type inspected struct {
		c   *chat.CallInfo
		err error
	}
	fromCalls := make(chan inspected, 1)
	go func() {
		if s.calls == nil {
			fromCalls <- inspected{}
			return
		}
		c, err := s.calls.Inspect(ctx, roomID)
		fromCalls <- inspected{c, err}
	}()
	answers, nodes := s.ask(ctx, question{Op: opRoom, Room: roomID}, never)
	st := <-fromStore
	call := <-fromCalls
	if call.err != nil {
		// The rest of the answer is still worth having; the call shows
		// as none and the log says why.
		s.log.WarnContext(ctx, "cluster: inspect the room's call", "room", roomID, "err", call.err)
	}
	if errors.Is(st.err, chat.ErrNotFound) {
		return chat.RoomDetail{}, chat.Errorf(chat.CodeNotFound, "no such room")
	}
	if st.err != nil {
		return chat.RoomDetail{}, fmt.Errorf("cluster: room: %w", st.err)
	}
	room, n := st.a.Room, st.a.MessagesSince
	byUser := make(map[string]*chat.OnlineUser)
	for _, a := range answers {
		for _, c := range a.Conns {
			ou := byUser[c.User.ID]
			if ou == nil {
				ou = &chat.OnlineUser{User: c.User}
				byUser[c.User.ID] = ou
			}
			ou.Connections = append(ou.Connections, chat.ConnectionInfo{ID: c.ID, Node: a.Node, Since: c.Since})
		}
	}
	online := make([]chat.OnlineUser, 0, len(byUser))
	for _, ou := range byUser {
		slices.SortFunc(ou.Connections, func(a, b chat.ConnectionInfo) int {
			return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.ID, b.ID))
		})
		online = append(online, *ou)
	}
	slices.SortFunc(online, func(a, b chat.OnlineUser) int {
		return cmp.Or(cmp.Compare(a.User.Username, b.User.Username), cmp.Compare(a.User.ID, b.User.ID))
	})
	return chat.RoomDetail{
		Room:               room,
		Online:             online,
		Call:               call.c,
		Streams:            []chat.StreamInfo{},
		MessagesLastMinute: n,
		LastSeq:            room.LastSeq,
		Nodes:              nodes,
	}, nil
}

// Rooms lists every room with someone online on any node or a message in
// the last hour, most connections first, with the status of every node.
func (s *Service) Rooms(ctx context.Context) ([]chat.RoomStats, []chat.NodeStatus, error) {
	now := s.opts.Now()
	active, err := s.store.ActiveRooms(ctx, now.Add(-activeWindow), now.Add(-countWindow))
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: rooms: %w", err)
	}
	answers, nodes := s.ask(ctx, question{Op: opRooms}, never)

	stats := make(map[string]*chat.RoomStats, len(active))
	users := make(map[string]map[string]struct{})
	for _, a := range active {
		stats[a.Room.ID] = &chat.RoomStats{Room: a.Room, MessagesLastMinute: a.MessagesSince}
	}
	for _, a := range answers {
		for roomID, sm := range a.Rooms {
			if users[roomID] == nil {
				users[roomID] = make(map[string]struct{})
			}
			for _, u := range sm.Users {
				users[roomID][u] = struct{}{}
			}
			if st := stats[roomID]; st != nil {
				st.Connections += sm.Conns
				continue
			}
			// Online but quiet for an hour: the store has not listed it.
			room, err := s.store.Room(ctx, roomID)
			if errors.Is(err, chat.ErrNotFound) {
				continue // deleted while its last connections linger
			}
			if err != nil {
				return nil, nil, fmt.Errorf("cluster: rooms: %w", err)
			}
			stats[roomID] = &chat.RoomStats{Room: room, Connections: sm.Conns}
		}
	}
	var inCalls map[string]int
	if s.calls != nil {
		if inCalls, err = s.calls.Participants(ctx); err != nil {
			s.log.WarnContext(ctx, "cluster: count call participants", "err", err)
		}
	}
	out := make([]chat.RoomStats, 0, len(stats))
	for id, st := range stats {
		st.OnlineUsers = len(users[id])
		st.CallParticipants = inCalls[id]
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b chat.RoomStats) int {
		return cmp.Or(
			cmp.Compare(b.Connections, a.Connections),
			cmp.Compare(b.MessagesLastMinute, a.MessagesLastMinute),
			cmp.Compare(a.Room.ID, b.Room.ID))
	})
	return out, nodes, nil
}

func never(answer) bool { return false }
