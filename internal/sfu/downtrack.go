package sfu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// History of what a subscriber was sent, to map its NACKs (in its own
// sequence numbers) back to the packet in the publisher's ring.
const (
	histBits = 10
	histSize = 1 << histBits
	histMask = histSize - 1
)

// selectEvery is how often a subscriber's layer selection reads its
// bandwidth estimate.
const selectEvery = int64(250 * time.Millisecond)

// downTrack is one published track as one subscriber receives it: the
// webrtc.TrackLocal given to the subscriber's RTPSender, writing raw RTP
// through the bound TrackLocalWriter with this subscriber's SSRC, payload
// type, sequence numbers and timestamps.
type downTrack struct {
	up     *upTrack
	sub    *peer
	tr     *webrtc.RTPTransceiver // the subscriber's m-line it is sent on
	sender *webrtc.RTPSender
	bound  atomic.Pointer[binding]
	fb     Feedback // the RTCP callbacks, made once

	// target is the layer the subscriber should get (for PLIs it sends).
	target atomic.Int32
	// estimate is the subscriber's bandwidth estimate, bits/s, written by
	// the RTCP reader. testEstimate, when not 0, replaces it (tests).
	estimate     atomic.Int64
	testEstimate atomic.Int64

	mu      sync.Mutex // guards the forwarding state below, written per packet by the track's reader(s) or shard worker
	rw      *Rewriter
	sel     *LayerSelector // video only
	hb      [rtpHeaderLen]byte
	hdr     rtp.Header
	lastAt  int64 // arrival of the last packet sent
	nextSel int64 // when the layer selection reads the estimate next

	// hist maps an outgoing sequence number to what was sent under it;
	// written under mu, read by the RTCP reader, hence atomic.
	hist [histSize]atomic.Uint64

	// The RTCP reader's own state.
	rtxBuf [MaxPacketSize]byte
	rtxHdr rtp.Header
	loss   lossEstimator
}

type binding struct {
	w     webrtc.TrackLocalWriter
	ssrc  uint32
	pt    uint8
	clock uint32
}

func newDownTrack(up *upTrack, q *peer) (*downTrack, error) {
	dt := &downTrack{up: up, sub: q}
	dt.fb = Feedback{OnNACK: dt.onNACK, OnPLI: dt.onPLI}
	dt.hdr.Version, dt.rtxHdr.Version = rtpVersion, rtpVersion
	if up.kind == webrtc.RTPCodecTypeVideo {
		dt.sel = NewLayerSelector(up.rates, 0, 0)
	}
	dt.estimate.Store(initialEstimate)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, fmt.Errorf("peer %s: %w", q.id, ErrNotFound)
	}
	t, err := q.sendTransceiverLocked(dt)
	if err != nil {
		return nil, fmt.Errorf("add track: %w", err)
	}
	// Offer only the publisher's codec: the packets are forwarded as
	// they are.
	if err := t.SetCodecPreferences([]webrtc.RTPCodecParameters{up.codec}); err != nil {
		q.sfu.log.Debug("sfu: codec preferences", "track", up.id, "err", err)
	}
	dt.tr, dt.sender = t, t.Sender()
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		dt.readRTCP()
	}()
	return dt, nil
}

// TrackLocal.

func (dt *downTrack) ID() string                { return dt.up.id }
func (dt *downTrack) StreamID() string          { return dt.up.pub.user }
func (dt *downTrack) RID() string               { return "" }
func (dt *downTrack) Kind() webrtc.RTPCodecType { return dt.up.kind }

// Bind is called by Pion when the subscriber's answer made the sender
// start: from then on packets are written, and the publisher is asked
// for a keyframe so that the picture starts at once.
func (dt *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(ctx.CodecParameters(), dt.up.codec)
	if !ok {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: track %s: %w", dt.up.id, webrtc.ErrUnsupportedCodec)
	}
	b := &binding{w: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), pt: uint8(codec.PayloadType), clock: codec.ClockRate}
	dt.mu.Lock()
	dt.rw = NewRewriter(b.ssrc)
	dt.bound.Store(b)
	dt.mu.Unlock()
	if l := dt.up.layers[dt.target.Load()]; l != nil {
		l.requestKeyframe()
	}
	return codec, nil
}

// Unbind stops the writes.
func (dt *downTrack) Unbind(webrtc.TrackLocalContext) error {
	dt.bound.Store(nil)
	return nil
}

func matchCodec(cs []webrtc.RTPCodecParameters, want webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var found *webrtc.RTPCodecParameters
	for i := range cs {
		c := &cs[i]
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if c.SDPFmtpLine == want.SDPFmtpLine {
			return *c, true
		}
		if found == nil {
			found = c
		}
	}
	if found == nil {
		return webrtc.RTPCodecParameters{}, false
	}
	return *found, true
}

// forward writes one incoming packet to the subscriber if its layer is
// the one the subscriber gets (switching layers at a keyframe), rewritten
// for it. It reports whether it wrote. No allocation: the header is
// rewritten in a copy of its 12 bytes and the payload is shared.
func (dt *downTrack) forward(in *inPacket) bool {
	b := dt.bound.Load()
	if b == nil {
		return false
	}
	dt.mu.Lock()
	defer dt.mu.Unlock()
	switchTo := false
	if dt.sel != nil {
		if in.at >= dt.nextSel {
			dt.selectLayer(in.at)
		}
		if cur := dt.sel.Current(); in.layer != cur {
			if !in.key || !dt.sel.AtKeyframe(in.layer) {
				return false
			}
			switchTo = cur >= 0
		}
	}
	copy(dt.hb[:], in.pkt[:rtpHeaderLen])
	if in.off == in.end {
		dt.rw.Skip(dt.hb[:]) // padding only (bandwidth probing): not forwarded
		return false
	}
	gap := uint32(1)
	if switchTo && dt.lastAt > 0 {
		gap = uint32(uint64(in.at-dt.lastAt) * uint64(b.clock) / uint64(time.Second))
	}
	if !dt.rw.Rewrite(dt.hb[:], switchTo, gap) {
		return false
	}
	seq := binary.BigEndian.Uint16(dt.hb[2:4])
	ts := binary.BigEndian.Uint32(dt.hb[4:8])
	h := &dt.hdr
	h.Padding, h.Extension, h.Marker = false, false, in.marker
	h.PayloadType, h.SequenceNumber, h.Timestamp, h.SSRC = b.pt, seq, ts, b.ssrc
	h.CSRC, h.Extensions = h.CSRC[:0], h.Extensions[:0]
	inSeq := binary.BigEndian.Uint16(in.pkt[2:4])
	dt.hist[seq&histMask].Store(packHist(seq, inSeq, ts, in.layer))
	dt.lastAt = in.at
	if _, err := b.w.WriteRTP(h, in.pkt[in.off:in.end]); err != nil {
		return false
	}
	if lat := dt.up.sfu.lat; lat != nil {
		lat.record(time.Now().UnixNano() - in.at)
	}
	return true
}

// selectLayer updates the layer selection from the estimate; dt.mu is
// held.
func (dt *downTrack) selectLayer(now int64) {
	dt.nextSel = now + selectEvery
	est := dt.testEstimate.Load()
	if est == 0 {
		est = dt.estimate.Load()
	}
	target := dt.sel.Update(time.Unix(0, now), int(est))
	dt.target.Store(int32(target))
	if dt.sel.NeedsKeyframe() {
		dt.up.layers[target].requestKeyframe()
	}
}

// hist entries: outgoing timestamp (32 bits), incoming seq (16), the
// outgoing seq's bits above histBits (6, to tell a stale entry), layer
// (2), valid (1).
func packHist(outSeq, inSeq uint16, outTS uint32, layer int) uint64 {
	return uint64(outTS)<<32 | uint64(inSeq)<<16 | uint64(outSeq>>histBits)<<3 | uint64(layer&3)<<1 | 1
}

func unpackHist(e uint64, outSeq uint16) (inSeq uint16, outTS uint32, layer int, ok bool) {
	if e&1 == 0 || uint16(e>>3&0x3f) != outSeq>>histBits {
		return 0, 0, 0, false
	}
	return uint16(e >> 16), uint32(e >> 32), int(e >> 1 & 3), true
}

// readRTCP reads the subscriber's RTCP for this track until the sender
// stops: NACKs answered from the ring, PLIs passed on (throttled), and
// the bandwidth estimate (REMB, else receiver-report loss).
func (dt *downTrack) readRTCP() {
	buf := make([]byte, 1500)
	for {
		n, _, err := dt.sender.Read(buf)
		if err != nil {
			return
		}
		if err := ReadFeedback(buf[:n], dt.fb); err != nil && !errors.Is(err, ErrBadRTCP) {
			return
		}
		if est, ok := dt.loss.update(buf[:n], time.Now()); ok {
			dt.estimate.Store(est)
		}
	}
}

func (dt *downTrack) onNACK(_ uint32, seq uint16) {
	m := dt.up.sfu.metrics
	m.NACKs(1)
	b := dt.bound.Load()
	if b == nil {
		return
	}
	inSeq, ts, li, ok := unpackHist(dt.hist[seq&histMask].Load(), seq)
	if !ok || li >= len(dt.up.layers) {
		return
	}
	ring := dt.up.layers[li].ring
	if ring == nil {
		return
	}
	n, ok := ring.Get(inSeq, dt.rtxBuf[:])
	if !ok {
		return
	}
	in, ok := parsePacket(dt.rtxBuf[:n])
	if !ok {
		return
	}
	h := &dt.rtxHdr
	h.Padding, h.Extension, h.Marker = false, false, in.marker
	h.PayloadType, h.SequenceNumber, h.Timestamp, h.SSRC = b.pt, seq, ts, b.ssrc
	h.CSRC, h.Extensions = h.CSRC[:0], h.Extensions[:0]
	if _, err := b.w.WriteRTP(h, in.pkt[in.off:in.end]); err == nil {
		m.Retransmitted(1)
	}
}

func (dt *downTrack) onPLI(uint32) {
	if l := dt.up.layers[dt.target.Load()]; l != nil {
		l.requestKeyframe()
	}
}
