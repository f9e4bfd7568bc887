package sfu

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	pionnack "github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Defaults.
const (
	DefaultMaxTracks = 4
	// keyframeEvery is the most often one publisher's layer is asked for
	// a keyframe: a keyframe serves every subscriber waiting for one.
	keyframeEvery = 500 * time.Millisecond
)

// Config is the engine's network and limits configuration.
type Config struct {
	NodeID                 string
	UDPPort                int    // >0: one UDP port for every peer (ICE UDP mux)
	UDPPortMin, UDPPortMax uint16 // else an ephemeral range; 0,0 = OS picks
	PublicIPs              []string
	TCPPort                int  // >0: ICE-TCP passive fallback on this port
	Loopback               bool // dev/test: loopback candidates, interface lo only, mDNS off
	MaxTracks              int  // sources a peer may publish on (see doc.go); default 4
	// ICEFailedAfter sets Pion's ICE failed timeout (and a disconnected
	// timeout of half of it, at most 5 s): a peer whose ICE goes
	// unanswered for about their sum is declared failed, and the engine
	// closes it (signal "closed"). 0 keeps Pion's defaults (5 s + 25 s).
	// Tests shorten it.
	ICEFailedAfter time.Duration
	Log            *slog.Logger
	Metrics        Metrics // may be nil
}

// Metrics receives the engine's counters. It is called on the forwarding
// hot path, so implementations must be cheap (atomic counters).
type Metrics interface {
	Peers(delta int)
	Tracks(delta int)
	Forwarded(packets, bytes int)
	NACKs(n int)
	Retransmitted(n int)
	PLIs(n int)
}

type noMetrics struct{}

func (noMetrics) Peers(int)          {}
func (noMetrics) Tracks(int)         {}
func (noMetrics) Forwarded(int, int) {}
func (noMetrics) NACKs(int)          {}
func (noMetrics) Retransmitted(int)  {}
func (noMetrics) PLIs(int)           {}

// JoinRequest names the peer to create: Peer is the hub connection id,
// User the participant, Kind "video" or "audio".
type JoinRequest struct{ Call, Peer, User, Kind string }

// Signal is a message for the peer's client: Type "offer" with SDP,
// "candidate" with Candidate the JSON of an RTCIceCandidateInit
// ({"candidate":..,"sdpMid":..,"sdpMLineIndex":..}), or "closed" when the
// engine closed the peer by itself because its connection failed (the
// last signal of that peer; the client may join again).
type Signal struct {
	Type      string
	SDP       string
	Candidate json.RawMessage
}

// SFU is the forwarding engine of one node: calls, their peers and the
// tracks forwarded between them.
type SFU struct {
	cfg     Config
	log     *slog.Logger
	metrics Metrics
	api     *webrtc.API
	closers []func() error // the shared UDP/TCP sockets

	mu     sync.Mutex // guards calls and closed
	calls  map[string]*call
	closed bool

	wg sync.WaitGroup // goroutines the SFU starts outside any peer (failed-peer reaping)

	// lat, when set (tests, load measurement), records the forwarding
	// latency of every packet written.
	lat *latency
}

// New builds the engine's shared Pion API (codecs, interceptors, network
// settings) and opens the shared sockets.
func New(cfg Config) (*SFU, error) {
	if cfg.MaxTracks <= 0 {
		cfg.MaxTracks = DefaultMaxTracks
	}
	s := &SFU{cfg: cfg, log: cfg.Log, metrics: cfg.Metrics, calls: map[string]*call{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics == nil {
		s.metrics = noMetrics{}
	}
	me, err := mediaEngine()
	if err != nil {
		return nil, fmt.Errorf("sfu: new: %w", err)
	}
	reg, err := interceptors(me)
	if err != nil {
		return nil, fmt.Errorf("sfu: new: %w", err)
	}
	se, err := s.settingEngine()
	if err != nil {
		s.closeSockets()
		return nil, fmt.Errorf("sfu: new: %w", err)
	}
	s.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return s, nil
}

// mediaEngine registers VP8, H.264 and Opus without RTX (retransmissions
// go on the media SSRC, answered from the shared ring), the feedback the
// engine reads (NACK, PLI, REMB) and the simulcast header extensions.
func mediaEngine() (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"},
	}
	codecs := []struct {
		c    webrtc.RTPCodecParameters
		kind webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
		}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb,
		}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: fb,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		}, PayloadType: 102}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: fb,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
		}, PayloadType: 104}, webrtc.RTPCodecTypeVideo},
	}
	for _, c := range codecs {
		if err := me.RegisterCodec(c.c, c.kind); err != nil {
			return nil, err
		}
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, err
	}
	return me, nil
}

// interceptors builds the registry by hand instead of the defaults: the
// NACK generator (asks publishers for lost packets), RTCP sender and
// receiver reports, and TWCC feedback to publishers (their send-side
// bandwidth estimation). Pion's NACK responder is left out on purpose:
// it keeps a copy of 1,024 packets per subscriber, while this engine
// answers NACKs from the one ring per incoming track. The TWCC header
// extension is not added to forwarded packets: without a send-side
// estimator here the feedback would go unused, and a browser receiving
// transport-cc stops sending REMB, which the layer selection reads.
func interceptors(me *webrtc.MediaEngine) (*interceptor.Registry, error) {
	reg := &interceptor.Registry{}
	gen, err := pionnack.NewGeneratorInterceptor()
	if err != nil {
		return nil, err
	}
	reg.Add(gen)
	recv, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, err
	}
	send, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, err
	}
	reg.Add(recv)
	reg.Add(send)
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		me.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return nil, err
		}
	}
	tw, err := twcc.NewSenderInterceptor()
	if err != nil {
		return nil, err
	}
	reg.Add(tw)
	return reg, nil
}

// settingEngine applies the network configuration, shared by every peer.
func (s *SFU) settingEngine() (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	cfg := s.cfg
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	host := ""
	// No mDNS in any mode: a server cannot resolve a browser's .local
	// candidate anyway (peer-reflexive candidates cover it), and querying
	// would let a client steer the SFU's probes on its own network.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if cfg.Loopback {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
		host = "127.0.0.1"
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	}
	switch {
	case cfg.UDPPort > 0:
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(host), Port: cfg.UDPPort})
		if err != nil {
			return se, fmt.Errorf("udp port %d: %w", cfg.UDPPort, err)
		}
		mux := webrtc.NewICEUDPMux(nil, conn)
		s.closers = append(s.closers, mux.Close)
		se.SetICEUDPMux(mux)
	case cfg.UDPPortMin > 0 || cfg.UDPPortMax > 0:
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return se, fmt.Errorf("udp port range %d-%d: %w", cfg.UDPPortMin, cfg.UDPPortMax, err)
		}
	}
	if cfg.TCPPort > 0 {
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.ParseIP(host), Port: cfg.TCPPort})
		if err != nil {
			return se, fmt.Errorf("tcp port %d: %w", cfg.TCPPort, err)
		}
		mux := webrtc.NewICETCPMux(nil, l, 8)
		s.closers = append(s.closers, mux.Close)
		se.SetICETCPMux(mux)
		networks = append(networks, webrtc.NetworkTypeTCP4)
		if !cfg.Loopback {
			networks = append(networks, webrtc.NetworkTypeTCP6)
		}
	}
	se.SetNetworkTypes(networks)
	if cfg.ICEFailedAfter > 0 {
		disconnected := min(cfg.ICEFailedAfter/2, 5*time.Second)
		se.SetICETimeouts(disconnected, cfg.ICEFailedAfter, min(disconnected/2, 2*time.Second))
	}
	if len(cfg.PublicIPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        cfg.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			return se, fmt.Errorf("public ips: %w", err)
		}
	}
	return se, nil
}

func (s *SFU) closeSockets() {
	for _, c := range s.closers {
		_ = c()
	}
	s.closers = nil
}

// Close ends every call and releases the shared sockets; the engine is
// unusable afterwards.
func (s *SFU) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.calls = map[string]*call{}
	s.mu.Unlock()
	for _, c := range calls {
		c.end()
	}
	s.wg.Wait()
	s.closeSockets()
}

// Join creates the peer and sends its first offer through signal. signal
// is called from one goroutine per peer, in order, never with the
// engine's locks held; it must not block for long. A peer joined already
// is replaced: the old one is closed (as by Leave) and a new one made;
// ErrConflict only while another Join of the peer is in progress.
func (s *SFU) Join(ctx context.Context, req JoinRequest, signal func(Signal)) error {
	if req.Call == "" || req.Peer == "" || req.User == "" {
		return fmt.Errorf("sfu: join: call, peer and user are required: %w", ErrBadRequest)
	}
	if req.Kind != "video" && req.Kind != "audio" {
		return fmt.Errorf("sfu: join: kind %q: %w", req.Kind, ErrBadRequest)
	}
	if signal == nil {
		return fmt.Errorf("sfu: join: no signal function: %w", ErrBadRequest)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("sfu: join: engine closed: %w", ErrNotFound)
	}
	c := s.calls[req.Call]
	if c == nil {
		c = &call{id: req.Call, sfu: s, peers: map[string]*peer{}}
		s.calls[req.Call] = c
	}
	old, ok := c.peers[req.Peer]
	if ok && old == nil {
		s.mu.Unlock()
		return fmt.Errorf("sfu: join: peer %s in call %s is joining: %w", req.Peer, req.Call, ErrConflict)
	}
	// Reserved under s.mu, so that a concurrent Join of the same peer is
	// refused and End sees the call.
	c.peers[req.Peer] = nil
	s.mu.Unlock()
	if old != nil {
		// A join again of a joined peer (the hub resending call_join, or
		// retrying one that timed out there but completed here) gets a
		// new peer: the old one leaves first.
		c.remove(old)
	}

	p, err := newPeer(s, c, req, signal)
	if err != nil {
		s.mu.Lock()
		delete(c.peers, req.Peer)
		s.dropIfEmpty(c)
		s.mu.Unlock()
		return fmt.Errorf("sfu: join: %w", err)
	}
	if !c.add(p) {
		p.close()
		return fmt.Errorf("sfu: join: call %s ended: %w", req.Call, ErrNotFound)
	}
	s.metrics.Peers(1)
	p.negotiate()
	return nil
}

// dropIfEmpty forgets a call without peers; s.mu is held.
func (s *SFU) dropIfEmpty(c *call) {
	if len(c.peers) == 0 && s.calls[c.id] == c {
		delete(s.calls, c.id)
	}
}

// peer finds a joined peer.
func (s *SFU) peer(callID, peerID string) (*peer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[callID]
	if c == nil {
		return nil, fmt.Errorf("call %s: %w", callID, ErrNotFound)
	}
	p := c.peers[peerID]
	if p == nil {
		return nil, fmt.Errorf("peer %s in call %s: %w", peerID, callID, ErrNotFound)
	}
	return p, nil
}

// Answer applies the client's answer to the peer's pending offer.
func (s *SFU) Answer(ctx context.Context, callID, peerID, sdp string) error {
	p, err := s.peer(callID, peerID)
	if err != nil {
		return fmt.Errorf("sfu: answer: %w", err)
	}
	if err := p.answer(sdp); err != nil {
		return fmt.Errorf("sfu: answer: %w", err)
	}
	return nil
}

// Candidate adds a trickled ICE candidate of the client (the JSON of an
// RTCIceCandidateInit; an empty candidate string ends the trickle).
func (s *SFU) Candidate(ctx context.Context, callID, peerID string, c json.RawMessage) error {
	p, err := s.peer(callID, peerID)
	if err != nil {
		return fmt.Errorf("sfu: candidate: %w", err)
	}
	var init webrtc.ICECandidateInit
	if err := json.Unmarshal(c, &init); err != nil {
		return fmt.Errorf("sfu: candidate: %v: %w", err, ErrBadRequest)
	}
	if err := p.candidate(init); err != nil {
		return fmt.Errorf("sfu: candidate: %w", err)
	}
	return nil
}

// Publish prepares the peer to send a source: camera and microphone are
// in the first offer (a no-op), screen adds a transceiver and renegotiates.
func (s *SFU) Publish(ctx context.Context, callID, peerID, source string) error {
	p, err := s.peer(callID, peerID)
	if err != nil {
		return fmt.Errorf("sfu: publish: %w", err)
	}
	if err := p.publish(source); err != nil {
		return fmt.Errorf("sfu: publish: %w", err)
	}
	return nil
}

// Leave closes the peer; the others stop receiving its tracks (a new
// offer each).
func (s *SFU) Leave(ctx context.Context, callID, peerID string) error {
	s.mu.Lock()
	c := s.calls[callID]
	var p *peer
	if c != nil {
		p = c.peers[peerID]
	}
	if p == nil {
		s.mu.Unlock()
		return fmt.Errorf("sfu: leave: peer %s in call %s: %w", peerID, callID, ErrNotFound)
	}
	delete(c.peers, peerID)
	s.dropIfEmpty(c)
	s.mu.Unlock()
	c.remove(p)
	return nil
}

// End closes every peer of the call; ending an unknown or ended call is
// not an error.
func (s *SFU) End(ctx context.Context, callID string) error {
	s.mu.Lock()
	c := s.calls[callID]
	delete(s.calls, callID)
	s.mu.Unlock()
	if c != nil {
		c.end()
	}
	return nil
}

// reapFailed removes a peer whose connection Pion declared failed, as a
// Leave would.
func (s *SFU) reapFailed(p *peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c := p.call
		// Checked and taken out under one lock: a Join that replaced the
		// peer meanwhile keeps its new one.
		s.mu.Lock()
		if c.peers[p.id] != p {
			s.mu.Unlock()
			return // left or replaced meanwhile
		}
		delete(c.peers, p.id)
		s.dropIfEmpty(c)
		s.mu.Unlock()
		c.remove(p)
		s.log.Info("sfu: closed a peer whose connection failed", "call", c.id, "peer", p.id)
		// Its queue is closed, so this comes after everything it sent.
		// A client that joined again while the peer was being closed has
		// a new peer under the same ID: "closed" would reach it, so it is
		// not sent.
		s.mu.Lock()
		replaced := s.calls[c.id] != nil && s.calls[c.id].peers[p.id] != nil
		s.mu.Unlock()
		if !replaced {
			p.q.fn(Signal{Type: "closed"})
		}
	}()
}

// CallStats is what Stats reports of a call.
type CallStats struct{ Peers []PeerStats }

// PeerStats is one peer and the tracks it publishes.
type PeerStats struct {
	Peer, User string
	Tracks     []TrackStats
}

// TrackStats is one published track: ID "<user>:<source>", Kind
// "audio"|"video", BitrateKbps over the last seconds.
type TrackStats struct {
	ID, Kind, Source string
	BitrateKbps      int
	Packets          int64
}

// Stats reports the call's peers and their published tracks.
func (s *SFU) Stats(callID string) (CallStats, error) {
	s.mu.Lock()
	c := s.calls[callID]
	s.mu.Unlock()
	if c == nil {
		return CallStats{}, fmt.Errorf("sfu: stats: call %s: %w", callID, ErrNotFound)
	}
	return c.stats(), nil
}

// Load is the node's size, announced in its beats.
type Load struct{ Calls, Peers, Tracks, Subscriptions int }

// Load counts the calls, peers, published tracks and subscriptions.
func (s *SFU) Load() Load {
	s.mu.Lock()
	calls := make([]*call, 0, len(s.calls))
	for _, c := range s.calls {
		calls = append(calls, c)
	}
	s.mu.Unlock()
	l := Load{Calls: len(calls)}
	for _, c := range calls {
		cl := c.load()
		l.Peers += cl.Peers
		l.Tracks += cl.Tracks
		l.Subscriptions += cl.Subscriptions
	}
	return l
}
