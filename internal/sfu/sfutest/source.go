package sfutest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// SourceOptions shape a synthetic source. Zero values take the defaults.
type SourceOptions struct {
	ID, StreamID    string        // the track's msid (defaults "video"/"audio", "client")
	FPS             int           // video frames per second (30)
	PacketsPerFrame int           // video packets per frame of the top layer (5: ~1.4 Mbps at 1200 B)
	PacketSize      int           // bytes of payload per packet (video 1200, audio 120)
	KeyframeEvery   time.Duration // periodic keyframes (video; 0: every 3 s, <0: only on PLI)
	RIDs            []string      // simulcast encodings, lowest first (video; none: no simulcast)
}

// Source is a synthetic media source published by a Client. Its payloads
// are self-describing (see CheckPayload), so a receiver can verify them.
type Source struct {
	c       *Client
	video   bool
	opts    SourceOptions
	tracks  []*synthTrack
	sender  *webrtc.RTPSender
	wantKey atomic.Bool
	sent    atomic.Int64
	stop    chan struct{}
	once    sync.Once
}

// PublishVP8 adds a sendonly video transceiver carrying synthetic VP8 and
// starts sending (packets are dropped until the SFU's offer is answered).
// Add it before handling the offer that should carry it: the client's
// transceivers are matched to the SFU's recvonly m-lines in order.
func (c *Client) PublishVP8(o SourceOptions) (*Source, error) {
	if o.ID == "" {
		o.ID = "video"
	}
	if o.FPS <= 0 {
		o.FPS = 30
	}
	if o.PacketsPerFrame <= 0 {
		o.PacketsPerFrame = 5
	}
	if o.PacketSize <= 0 {
		o.PacketSize = 1200
	}
	if o.KeyframeEvery == 0 {
		o.KeyframeEvery = 3 * time.Second
	}
	return c.publish(true, o)
}

// PublishOpus adds a sendonly audio transceiver carrying synthetic Opus
// packets, one per 20 ms.
func (c *Client) PublishOpus(o SourceOptions) (*Source, error) {
	if o.ID == "" {
		o.ID = "audio"
	}
	if o.PacketSize <= 0 {
		o.PacketSize = 120
	}
	o.RIDs = nil
	return c.publish(false, o)
}

func (c *Client) publish(video bool, o SourceOptions) (*Source, error) {
	if o.StreamID == "" {
		o.StreamID = "client"
	}
	s := &Source{c: c, video: video, opts: o, stop: make(chan struct{})}
	rids := o.RIDs
	if len(rids) == 0 {
		rids = []string{""}
	}
	for _, rid := range rids {
		s.tracks = append(s.tracks, &synthTrack{id: o.ID, streamID: o.StreamID, rid: rid, video: video})
	}
	t, err := c.PC.AddTransceiverFromTrack(s.tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("sfutest: publish: %w", err)
	}
	for _, tr := range s.tracks {
		tr.transceiver = t
	}
	for _, tr := range s.tracks[1:] {
		if err := t.Sender().AddEncoding(tr); err != nil {
			return nil, fmt.Errorf("sfutest: publish: encoding %s: %w", tr.rid, err)
		}
	}
	s.sender = t.Sender()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("sfutest: closed")
	}
	c.sources = append(c.sources, s)
	c.wg.Add(1 + len(s.tracks))
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		s.run()
	}()
	for _, tr := range s.tracks {
		go func() {
			defer c.wg.Done()
			s.readRTCP(tr.rid)
		}()
	}
	return s, nil
}

// Sent counts the packets written (after the SFU bound the track).
func (s *Source) Sent() int64 { return s.sent.Load() }

// Stop stops sending.
func (s *Source) Stop() { s.once.Do(func() { close(s.stop) }) }

// Keyframe makes the next frame a keyframe.
func (s *Source) Keyframe() { s.wantKey.Store(true) }

func (s *Source) readRTCP(rid string) {
	for {
		var pkts []rtcp.Packet
		var err error
		if rid != "" {
			pkts, _, err = s.sender.ReadSimulcastRTCP(rid)
		} else {
			pkts, _, err = s.sender.ReadRTCP()
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			if _, ok := p.(*rtcp.PictureLossIndication); ok && s.video {
				s.c.plis.Add(1)
				s.wantKey.Store(true)
			}
		}
	}
}

func (s *Source) run() {
	every := 20 * time.Millisecond
	if s.video {
		every = time.Second / time.Duration(s.opts.FPS)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	seqs := make([]uint16, len(s.tracks))
	for i := range seqs {
		seqs[i] = uint16(rand.IntN(1 << 16))
	}
	ts := rand.Uint32()
	lastKey := time.Time{}
	hdr := rtp.Header{Version: 2}
	payload := make([]byte, max(s.opts.PacketSize, 16))
	for frame := uint32(0); ; frame++ {
		select {
		case <-s.stop:
			return
		case <-s.c.done:
			return
		case <-tick.C:
		}
		if !s.video {
			hdr.SequenceNumber, hdr.Timestamp, hdr.Marker = seqs[0], ts, false
			fill(payload, 0xfc, false, 0, frame, 0)
			if s.tracks[0].write(&hdr, payload) {
				s.sent.Add(1)
			}
			seqs[0]++
			ts += 960
			continue
		}
		key := frame == 0 || s.wantKey.Swap(false) ||
			(s.opts.KeyframeEvery > 0 && time.Since(lastKey) >= s.opts.KeyframeEvery)
		if key {
			lastKey = time.Now()
		}
		n := len(s.tracks)
		for li, tr := range s.tracks {
			ppf := max(1, s.opts.PacketsPerFrame>>(n-1-li))
			for i := range ppf {
				hdr.SequenceNumber, hdr.Timestamp, hdr.Marker = seqs[li], ts, i == ppf-1
				fill(payload, 0, key && i == 0, li, frame, i)
				if i == 0 {
					payload[0] = 0x10 // S=1, partition 0: a frame's first packet
				}
				if tr.write(&hdr, payload) {
					s.sent.Add(1)
				}
				seqs[li]++
			}
		}
		ts += 90000 / uint32(s.opts.FPS)
	}
}

// Payload layout: [0] VP8 descriptor or Opus TOC, [1] VP8 frame tag (bit
// 0 clear on a keyframe), [2] layer, [3:7] frame, [7:9] packet index,
// then bytes derived from them.
const payloadHead = 9

func fill(p []byte, first byte, key bool, layer int, frame uint32, idx int) {
	p[0] = first
	p[1] = 0x01
	if key {
		p[1] = 0x00
	}
	p[2] = byte(layer)
	binary.BigEndian.PutUint32(p[3:7], frame)
	binary.BigEndian.PutUint16(p[7:9], uint16(idx))
	for j := payloadHead; j < len(p); j++ {
		p[j] = byte(int(frame)*31 + idx*7 + j + layer)
	}
}

// CheckPayload verifies that a received payload is one a Source sent,
// unaltered.
func CheckPayload(p []byte) error {
	if len(p) < payloadHead {
		return fmt.Errorf("payload of %d bytes, want at least %d", len(p), payloadHead)
	}
	layer, frame, idx := int(p[2]), binary.BigEndian.Uint32(p[3:7]), int(binary.BigEndian.Uint16(p[7:9]))
	for j := payloadHead; j < len(p); j++ {
		if want := byte(int(frame)*31 + idx*7 + j + layer); p[j] != want {
			return fmt.Errorf("payload byte %d: got %#x, want %#x (frame %d packet %d)", j, p[j], want, frame, idx)
		}
	}
	return nil
}

// PayloadLayer is the simulcast layer a payload was sent on.
func PayloadLayer(p []byte) int {
	if len(p) < payloadHead {
		return -1
	}
	return int(p[2])
}

// PayloadKeyframe reports whether a VP8 payload starts a keyframe.
func PayloadKeyframe(p []byte) bool { return len(p) >= 2 && p[0]&0x10 != 0 && p[1]&0x01 == 0 }

// synthTrack is a TrackLocal writing the Source's packets with the
// negotiated SSRC and payload type, and the mid and rid header
// extensions a simulcast receiver needs to tell the encodings apart.
type synthTrack struct {
	id, streamID, rid string
	video             bool
	transceiver       *webrtc.RTPTransceiver
	b                 atomic.Pointer[synthBinding]
}

type synthBinding struct {
	w            webrtc.TrackLocalWriter
	ssrc         uint32
	pt           uint8
	midID, ridID uint8
}

func (t *synthTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := webrtc.MimeTypeOpus
	if t.video {
		want = webrtc.MimeTypeVP8
	}
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, want) {
			mid, rid := extIDs(ctx.HeaderExtensions())
			t.b.Store(&synthBinding{w: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), pt: uint8(c.PayloadType), midID: mid, ridID: rid})
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *synthTrack) Unbind(webrtc.TrackLocalContext) error { t.b.Store(nil); return nil }
func (t *synthTrack) ID() string                            { return t.id }
func (t *synthTrack) RID() string                           { return t.rid }
func (t *synthTrack) StreamID() string                      { return t.streamID }
func (t *synthTrack) Kind() webrtc.RTPCodecType {
	if t.video {
		return webrtc.RTPCodecTypeVideo
	}
	return webrtc.RTPCodecTypeAudio
}

func (t *synthTrack) write(h *rtp.Header, payload []byte) bool {
	b := t.b.Load()
	if b == nil {
		return false
	}
	h.SSRC, h.PayloadType = b.ssrc, b.pt
	h.Extension, h.Extensions = false, h.Extensions[:0]
	if t.rid != "" && b.ridID != 0 {
		if b.midID != 0 {
			_ = h.SetExtension(b.midID, []byte(t.transceiver.Mid()))
		}
		_ = h.SetExtension(b.ridID, []byte(t.rid))
	}
	_, err := b.w.WriteRTP(h, payload)
	return err == nil
}
