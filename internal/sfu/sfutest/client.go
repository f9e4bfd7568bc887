// Package sfutest is a Pion client peer for tests of the SFU: it answers
// the SFU's offers, trickles candidates, publishes synthetic VP8 (plain
// or simulcast) and Opus, and collects the RTP it receives per track.
//
// It is signaling-agnostic: offers and candidates come in as strings and
// JSON (HandleOffer, HandleCandidate) and the answer and local candidates
// go out as a return value and through Options.OnCandidate, so a test can
// carry them over the engine's API directly or over the hub's WebSocket.
//
// Concurrency: every method is safe for concurrent use. The client owns
// one goroutine per received track, per published source and per sender's
// RTCP reader; Close stops and waits for all of them.
package sfutest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Options configure a Client.
type Options struct {
	// OnCandidate receives each local ICE candidate as the JSON of an
	// RTCIceCandidateInit, to send to the SFU.
	OnCandidate func(candidate json.RawMessage)
	// KeepPackets is how many of the latest packets are kept per received
	// track (default 4096; negative keeps none, only counts).
	KeepPackets int
	// NotLoopback gathers candidates on every interface instead of lo.
	NotLoopback bool
}

// Client is one Pion peer connection acting as a call participant.
type Client struct {
	PC   *webrtc.PeerConnection
	opts Options

	mu        sync.Mutex // guards the fields below
	remoteSet bool
	early     []webrtc.ICECandidateInit
	recv      map[string]*Received // by track id
	sources   []*Source
	closed    bool

	plis atomic.Int64
	done chan struct{}
	wg   sync.WaitGroup
}

// Packet is one received RTP packet.
type Packet struct {
	Seq     uint16
	TS      uint32
	SSRC    uint32
	Marker  bool
	Payload []byte
	At      time.Time
}

// Received is what arrived on one track.
type Received struct {
	ID, StreamID string
	Kind         webrtc.RTPCodecType
	SSRC         uint32

	mu      sync.Mutex // guards the fields below
	count   int64
	bytes   int64
	packets []Packet
}

// Snapshot is a copy of a track's reception.
type Snapshot struct {
	ID, StreamID string
	Kind         webrtc.RTPCodecType
	SSRC         uint32
	Count, Bytes int64
	Packets      []Packet
}

// New creates a client on loopback (unless opts.NotLoopback).
func New(opts Options) (*Client, error) {
	if opts.KeepPackets == 0 {
		opts.KeepPackets = 4096
	}
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb,
	}, PayloadType: 96}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
	}, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	recvr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, err
	}
	sendr, err := report.NewSenderInterceptor()
	if err != nil {
		return nil, err
	}
	reg.Add(recvr)
	reg.Add(sendr)
	var se webrtc.SettingEngine
	if !opts.NotLoopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	// The tests look for retransmissions of packets already received,
	// which SRTP replay protection would drop.
	se.DisableSRTPReplayProtection(true)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c := &Client{PC: pc, opts: opts, recv: map[string]*Received{}, done: make(chan struct{})}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil || opts.OnCandidate == nil {
			return
		}
		if b, err := json.Marshal(cand.ToJSON()); err == nil {
			opts.OnCandidate(b)
		}
	})
	pc.OnTrack(c.onTrack)
	return c, nil
}

// HandleOffer applies the SFU's offer and returns the answer to send back.
func (c *Client) HandleOffer(offer string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return "", errors.New("sfutest: closed")
	}
	if err := c.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("sfutest: offer: %w", err)
	}
	if !c.remoteSet {
		c.remoteSet = true
		for _, cand := range c.early {
			_ = c.PC.AddICECandidate(cand)
		}
		c.early = nil
	}
	ans, err := c.PC.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("sfutest: answer: %w", err)
	}
	if err := c.PC.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("sfutest: answer: %w", err)
	}
	return ans.SDP, nil
}

// HandleCandidate adds a candidate of the SFU (RTCIceCandidateInit JSON).
func (c *Client) HandleCandidate(raw json.RawMessage) error {
	var cand webrtc.ICECandidateInit
	if err := json.Unmarshal(raw, &cand); err != nil {
		return fmt.Errorf("sfutest: candidate: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.remoteSet {
		c.early = append(c.early, cand)
		return nil
	}
	return c.PC.AddICECandidate(cand)
}

func (c *Client) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	r := &Received{ID: remote.ID(), StreamID: remote.StreamID(), Kind: remote.Kind(), SSRC: uint32(remote.SSRC())}
	c.recv[r.ID] = r
	c.wg.Add(1)
	c.mu.Unlock()
	defer c.wg.Done()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		if err := p.Unmarshal(buf[:n]); err != nil {
			continue
		}
		r.mu.Lock()
		r.count++
		r.bytes += int64(n)
		if c.opts.KeepPackets > 0 {
			if len(r.packets) >= c.opts.KeepPackets {
				r.packets = r.packets[1:]
			}
			r.packets = append(r.packets, Packet{
				Seq: p.SequenceNumber, TS: p.Timestamp, SSRC: p.SSRC, Marker: p.Marker,
				Payload: append([]byte(nil), p.Payload...), At: time.Now(),
			})
		}
		r.mu.Unlock()
	}
}

// Track returns what arrived on the track with that id ("<user>:<source>").
func (c *Client) Track(id string) (Snapshot, bool) {
	c.mu.Lock()
	r := c.recv[id]
	c.mu.Unlock()
	if r == nil {
		return Snapshot{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return Snapshot{
		ID: r.ID, StreamID: r.StreamID, Kind: r.Kind, SSRC: r.SSRC, Count: r.count, Bytes: r.bytes,
		Packets: append([]Packet(nil), r.packets...),
	}, true
}

// TrackIDs lists the tracks received so far.
func (c *Client) TrackIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.recv))
	for id := range c.recv {
		ids = append(ids, id)
	}
	return ids
}

// ActiveTrackIDs lists the tracks the current remote description still
// sends (msid of sendrecv/sendonly m-lines), to see removals.
func (c *Client) ActiveTrackIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for _, t := range c.PC.GetTransceivers() {
		if t.Direction() != webrtc.RTPTransceiverDirectionRecvonly && t.Direction() != webrtc.RTPTransceiverDirectionSendrecv {
			continue
		}
		if r := t.Receiver(); r != nil {
			if tr := r.Track(); tr != nil && tr.ID() != "" {
				ids = append(ids, tr.ID())
			}
		}
	}
	return ids
}

// SendNACK asks the SFU to retransmit packets of a received track, by the
// sequence numbers received.
func (c *Client) SendNACK(trackID string, seqs ...uint16) error {
	c.mu.Lock()
	r := c.recv[trackID]
	c.mu.Unlock()
	if r == nil {
		return fmt.Errorf("sfutest: no track %s", trackID)
	}
	return c.PC.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: r.SSRC, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs),
	}})
}

// SendPLI asks the SFU for a keyframe of a received track.
func (c *Client) SendPLI(trackID string) error {
	c.mu.Lock()
	r := c.recv[trackID]
	c.mu.Unlock()
	if r == nil {
		return fmt.Errorf("sfutest: no track %s", trackID)
	}
	return c.PC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: r.SSRC}})
}

// PLIs counts the picture loss indications the SFU sent this client's
// published video.
func (c *Client) PLIs() int64 { return c.plis.Load() }

// Close stops publishing and receiving and closes the peer connection.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.done)
	_ = c.PC.Close()
	c.wg.Wait()
}

// extIDs finds the negotiated ids of the mid and rid header extensions.
func extIDs(exts []webrtc.RTPHeaderExtensionParameter) (mid, rid uint8) {
	for _, e := range exts {
		switch e.URI {
		case sdp.SDESMidURI:
			mid = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			rid = uint8(e.ID)
		}
	}
	return mid, rid
}
