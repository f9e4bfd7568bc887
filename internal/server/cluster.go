package server

import (
	"context"

	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/cluster"
	"github.com/pawfect/hub/internal/presence"
	"github.com/pawfect/hub/internal/rooms"
	"github.com/pawfect/hub/internal/signaling"
)

// clusterBus gives the cluster service the bus in the shape it declares.
type clusterBus struct{ *bus.Bus }

func (b clusterBus) Subscribe(subject string, fn func([]byte)) (cluster.Subscription, error) {
	return b.Bus.Subscribe(subject, fn)
}

func (b clusterBus) Respond(subject string, fn func([]byte) []byte) (cluster.Subscription, error) {
	return b.Bus.Respond(subject, fn)
}

// clusterLocal is what this hub holds in memory, for the cluster service:
// the rooms' local connections and the gateway's sockets.
type clusterLocal struct {
	rooms   *rooms.Service
	gateway *signaling.Gateway
}

func (l clusterLocal) LocalRoom(roomID string) []cluster.Conn {
	return toClusterConns(l.rooms.LocalRoom(roomID))
}

func (l clusterLocal) LocalRooms() map[string][]cluster.Conn {
	local := l.rooms.LocalRooms()
	out := make(map[string][]cluster.Conn, len(local))
	for id, conns := range local {
		out[id] = toClusterConns(conns)
	}
	return out
}

func (l clusterLocal) Disconnect(connID string) bool {
	return l.gateway.DisconnectConn(connID, chat.CloseKicked, "disconnected by an admin")
}

func toClusterConns(in []rooms.LocalConn) []cluster.Conn {
	if in == nil {
		return nil
	}
	out := make([]cluster.Conn, len(in))
	for i, c := range in {
		out[i] = cluster.Conn{ID: c.ID, User: c.User, Since: c.Since}
	}
	return out
}

// reapPrevious announces offline the users of this node ID's previous run,
// when it crashed and this run started before the others found it lost.
// It runs before the gateway accepts anyone.
func (s *Server) reapPrevious(ctx context.Context) {
	if s.limits.reapPrevious == nil {
		return
	}
	gone, err := s.limits.reapPrevious(ctx)
	s.announceDepartures(ctx, s.cfg.NodeID+" (previous run)", gone, err)
}

// onNodeLost removes a crashed hub's connections from presence and
// announces its users offline where it held their last connection. Every
// surviving hub runs it; the reaping gives each departure to one of them.
func (s *Server) onNodeLost(ctx context.Context, node string) {
	if s.calls != nil {
		// Its connections are gone, and with them their place in calls.
		s.calls.svc.HubLost(ctx, node)
	}
	if s.limits.reap == nil {
		return
	}
	gone, err := s.limits.reap(ctx, node)
	s.announceDepartures(ctx, node, gone, err)
}

func (s *Server) announceDepartures(ctx context.Context, node string, gone []presence.Departure, err error) {
	if err != nil {
		// What was not reaped expires with the presence TTL, unannounced.
		s.log.WarnContext(ctx, "reap a lost hub's presence", "lost", node, "err", err)
	}
	for _, d := range gone {
		s.rooms.AnnounceOffline(ctx, d.Room, d.User)
	}
	if len(gone) > 0 {
		s.log.InfoContext(ctx, "announced a lost hub's users offline", "lost", node, "departures", len(gone))
	}
}
