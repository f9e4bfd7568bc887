package sfu

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// countWriter is a TrackLocalWriter that checks the stream it is given:
// continuous sequence numbers and its SSRC.
type countWriter struct {
	mu     sync.Mutex
	n      int
	gaps   int
	last   uint16
	ssrc   uint32
	badSSR int
}

func (w *countWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.mu.Lock()
	if w.n > 0 && h.SequenceNumber != w.last+1 {
		w.gaps++
	}
	if h.SSRC != w.ssrc {
		w.badSSR++
	}
	w.n++
	w.last = h.SequenceNumber
	w.mu.Unlock()
	return len(payload), nil
}

func (w *countWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *countWriter) count() int { w.mu.Lock(); defer w.mu.Unlock(); return w.n }

// benchTrack builds a published VP8 track with n bound subscribers and
// no Pion underneath: the engine's per-packet path alone. sharded starts
// the shard workers as addSub does past shardThreshold.
func benchTrack(n int, sharded bool) (*SFU, *layer, []*countWriter) {
	s := &SFU{metrics: noMetrics{}}
	up := &upTrack{
		sfu: s, id: "a:camera", source: SourceCamera, kind: webrtc.RTPCodecTypeVideo, vcodec: CodecVP8,
		codec: webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96},
		done:  make(chan struct{}), rates: nominalRates(1),
	}
	up.pub = &peer{user: "a"}
	l := &layer{up: up, ring: NewRing(videoRing), kf: NewKeyframeThrottle(keyframeEvery)}
	up.layers = []*layer{l}
	subs := []*downTrack{}
	ws := make([]*countWriter, n)
	for i := range n {
		ssrc := uint32(1000 + i)
		ws[i] = &countWriter{ssrc: ssrc}
		dt := &downTrack{up: up}
		dt.fb = Feedback{OnNACK: dt.onNACK, OnPLI: dt.onPLI}
		dt.sel = NewLayerSelector(up.rates, 0, 0)
		dt.rw = NewRewriter(ssrc)
		dt.estimate.Store(initialEstimate)
		dt.bound.Store(&binding{w: ws[i], ssrc: ssrc, pt: 96, clock: 90000})
		subs = append(subs, dt)
	}
	up.subs.Store(&subs)
	if sharded {
		up.startShards()
	}
	return s, l, ws
}

// vp8Packet is a 1200-byte VP8 packet with a mid header extension, as
// browsers send; key makes it a keyframe's first packet.
func vp8Packet(seq uint16, ts uint32, key bool) []byte {
	p := make([]byte, 1200)
	p[0] = 0x90 // version 2, extension
	p[1] = 96
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], ts)
	binary.BigEndian.PutUint32(p[8:], 0xabcdef)
	binary.BigEndian.PutUint16(p[12:], 0xbede)
	binary.BigEndian.PutUint16(p[14:], 1)
	p[16], p[17] = 0x10, '0' // one-byte extension id 1, "0"
	p[20] = 0x10             // VP8 descriptor: S=1
	if !key {
		p[21] = 0x01
	}
	return p
}

func TestForwardPathDoesNotAllocate(t *testing.T) {
	_, l, ws := benchTrack(10, false)
	now := time.Now().UnixNano()
	l.forward(vp8Packet(0, 0, true), now)
	pkt := vp8Packet(1, 0, false)
	seq := uint16(1)
	allocs := testing.AllocsPerRun(1000, func() {
		binary.BigEndian.PutUint16(pkt[2:], seq)
		seq++
		now += int64(time.Millisecond)
		l.forward(pkt, now)
	})
	if allocs != 0 {
		t.Fatalf("forward to 10 subscribers: got %v allocations per packet, want 0", allocs)
	}
	for i, w := range ws {
		if w.count() != 1002 || w.gaps != 0 || w.badSSR != 0 {
			t.Fatalf("subscriber %d: got %d packets, %d gaps, %d foreign SSRCs; want 1002, 0, 0", i, w.count(), w.gaps, w.badSSR)
		}
	}
}

func TestShardedForwarding(t *testing.T) {
	_, l, ws := benchTrack(20, true)
	defer l.up.close()
	now := time.Now().UnixNano()
	const total = 300
	for i := range total {
		l.forward(vp8Packet(uint16(i), uint32(i/5*3000), i == 0), now+int64(i)*int64(time.Millisecond))
		if i%50 == 49 {
			// Let the workers catch up, as a 130 packets/s stream would.
			eventually(t, "workers catching up", func() bool {
				for _, w := range ws {
					if w.count() < i+1 {
						return false
					}
				}
				return true
			})
		}
	}
	for i, w := range ws {
		if w.count() != total || w.gaps != 0 || w.badSSR != 0 {
			t.Fatalf("subscriber %d: got %d packets, %d gaps, %d foreign SSRCs; want %d, 0, 0", i, w.count(), w.gaps, w.badSSR, total)
		}
	}
}

// BenchmarkEngineForward is the engine's per-packet path for one track
// with N subscribers: ring, keyframe detection, per-subscriber layer
// gating, header rewrite, NACK history and the write (to a counting
// writer, not Pion's SRTP). ns/op is per incoming packet; ns/fwd per
// forwarded packet.
func BenchmarkEngineForward(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("inline/N=%d", n), func(b *testing.B) {
			_, l, _ := benchTrack(n, false)
			now := time.Now().UnixNano()
			l.forward(vp8Packet(0, 0, true), now)
			pkt := vp8Packet(1, 0, false)
			b.ReportAllocs()
			b.SetBytes(int64(len(pkt)))
			seq := uint16(1)
			for b.Loop() {
				binary.BigEndian.PutUint16(pkt[2:], seq)
				seq++
				now += int64(time.Millisecond)
				l.forward(pkt, now)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/fwd")
		})
		b.Run(fmt.Sprintf("sharded/N=%d", n), func(b *testing.B) {
			_, l, ws := benchTrack(n, true)
			defer l.up.close()
			now := time.Now().UnixNano()
			l.forward(vp8Packet(0, 0, true), now)
			pkt := vp8Packet(1, 0, false)
			b.ReportAllocs()
			seq, want := uint16(1), 1
			for b.Loop() {
				binary.BigEndian.PutUint16(pkt[2:], seq)
				seq++
				want++
				now += int64(time.Millisecond)
				l.forward(pkt, now)
				// Wait for the shards, so that ns/op is a packet's whole
				// fan-out and the ring is never outrun.
				for _, w := range ws {
					for w.count() < want {
						runtime.Gosched()
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/fwd")
		})
	}
}

// TestShardedForwardsWhatTheRingDropped: with shard workers, a packet
// the ring does not keep (over MaxPacketSize, or too late for it) is
// still forwarded, by the reader itself. (Pion's default receive MTU,
// 1500 bytes of SRTP, keeps larger packets from arriving at all; a late
// one can.)
func TestShardedForwardsWhatTheRingDropped(t *testing.T) {
	_, l, ws := benchTrack(shardThreshold+4, true)
	defer l.up.close()
	now := time.Now().UnixNano()
	big := make([]byte, 1600)
	copy(big, vp8Packet(1, 3000, false))
	pkts := [][]byte{vp8Packet(0, 0, true), big, vp8Packet(2, 3000, false)}
	for i, p := range pkts {
		l.forward(p, now+int64(i)*int64(time.Millisecond))
		eventually(t, fmt.Sprintf("packet %d forwarded", i), func() bool {
			for _, w := range ws {
				if w.count() < i+1 {
					return false
				}
			}
			return true
		})
	}
	for i, w := range ws {
		if w.count() != len(pkts) || w.gaps != 0 || w.badSSR != 0 {
			t.Fatalf("subscriber %d: got %d packets, %d gaps, %d foreign SSRCs; want %d, 0, 0", i, w.count(), w.gaps, w.badSSR, len(pkts))
		}
	}
}
