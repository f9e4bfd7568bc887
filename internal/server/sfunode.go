package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/config"
	"github.com/pawfect/hub/internal/sfu"
	"github.com/pawfect/hub/internal/sfurpc"
)

// sfuNode is an SFU engine serving calls over the bus: in a hub
// (HUB_SFU=embedded, on the hub's own bus) or in cmd/sfu. Hubs reach both
// the same way, through sfurpc.
type sfuNode struct {
	engine *sfu.SFU
	rpc    *sfurpc.Server
}

func startSFUNode(b *bus.Bus, node string, n config.SFUNetwork, m sfu.Metrics, log *slog.Logger) (*sfuNode, error) {
	engine, err := sfu.New(sfu.Config{
		NodeID:     node,
		UDPPort:    n.UDPPort,
		UDPPortMin: n.UDPPortMin,
		UDPPortMax: n.UDPPortMax,
		PublicIPs:  n.PublicIPs,
		TCPPort:    n.TCPPort,
		Loopback:   n.Loopback,
		MaxTracks:  n.MaxTracks,
		Log:        log.With("component", "sfu"),
		Metrics:    m,
	})
	if err != nil {
		return nil, fmt.Errorf("server: SFU: %w", err)
	}
	rpc, err := sfurpc.NewServer(b, node, engineAdapter{engine}, sfurpc.ServerOptions{
		Log: log, Classify: sfuErrorCode,
	})
	if err != nil {
		engine.Close()
		return nil, fmt.Errorf("server: SFU node: %w", err)
	}
	log.Info("sfu: serving calls", "sfu_node", node, "udp_port", n.UDPPort, "public_ips", n.PublicIPs,
		"tcp_port", n.TCPPort, "loopback", n.Loopback)
	return &sfuNode{engine: engine, rpc: rpc}, nil
}

// close says goodbye on the bus, then closes every peer.
func (n *sfuNode) close() {
	n.rpc.Close()
	n.engine.Close()
}

// sfuErrorCode is the protocol code of an engine error.
func sfuErrorCode(err error) chat.Code {
	var ce *chat.Error
	switch {
	case errors.As(err, &ce):
		return ce.Code
	case errors.Is(err, sfu.ErrNotFound):
		return chat.CodeNotFound
	case errors.Is(err, sfu.ErrBadRequest):
		return chat.CodeBadRequest
	case errors.Is(err, sfu.ErrConflict):
		return chat.CodeConflict
	case errors.Is(err, sfu.ErrTooManyTracks):
		return chat.CodeTooLarge
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return chat.CodeUnavailable
	}
	return chat.CodeInternal
}

// engineAdapter gives sfurpc the engine with the plain parameters sfurpc
// declares, so neither package names the other's types.
type engineAdapter struct{ s *sfu.SFU }

func (a engineAdapter) Join(ctx context.Context, call, peer, user, kind string, signal func(sfurpc.Signal)) error {
	return a.s.Join(ctx, sfu.JoinRequest{Call: call, Peer: peer, User: user, Kind: kind}, func(sg sfu.Signal) {
		signal(sfurpc.Signal{Type: sg.Type, SDP: sg.SDP, Candidate: sg.Candidate})
	})
}

func (a engineAdapter) Answer(ctx context.Context, call, peer, sdp string) error {
	return a.s.Answer(ctx, call, peer, sdp)
}

func (a engineAdapter) Candidate(ctx context.Context, call, peer string, c json.RawMessage) error {
	return a.s.Candidate(ctx, call, peer, c)
}

func (a engineAdapter) Publish(ctx context.Context, call, peer, source string) error {
	return a.s.Publish(ctx, call, peer, source)
}

func (a engineAdapter) Leave(ctx context.Context, call, peer string) error {
	return a.s.Leave(ctx, call, peer)
}

func (a engineAdapter) End(ctx context.Context, call string) error { return a.s.End(ctx, call) }

func (a engineAdapter) Stats(call string) ([]chat.CallParticipant, error) {
	st, err := a.s.Stats(call)
	if err != nil {
		return nil, err
	}
	out := make([]chat.CallParticipant, 0, len(st.Peers))
	for _, p := range st.Peers {
		cp := chat.CallParticipant{User: chat.User{ID: p.User}, Tracks: make([]chat.TrackInfo, 0, len(p.Tracks))}
		for _, t := range p.Tracks {
			cp.Tracks = append(cp.Tracks, chat.TrackInfo{
				ID: t.ID, Kind: t.Kind, Source: t.Source, BitrateKbps: t.BitrateKbps, Packets: t.Packets,
			})
		}
		out = append(out, cp)
	}
	return out, nil
}

func (a engineAdapter) Load() sfurpc.Load {
	l := a.s.Load()
	return sfurpc.Load{Calls: l.Calls, Peers: l.Peers, Tracks: l.Tracks, Subscriptions: l.Subscriptions}
}
