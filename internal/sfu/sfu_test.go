package sfu

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
)

// packet builds an RTP packet: version 2, the given header fields and a
// payload that names its sequence number.
func packet(ssrc uint32, seq uint16, ts uint32, size int) []byte {
	p := make([]byte, max(size, rtpHeaderLen+2))
	p[0] = rtpVersion << 6
	p[1] = 96
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], ts)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	binary.BigEndian.PutUint16(p[rtpHeaderLen:], seq)
	return p
}

func TestRingPutGet(t *testing.T) {
	r := NewRing(100)
	if r.Len() != 128 {
		t.Fatalf("Len: got %d, want 128 (100 rounded up to a power of two)", r.Len())
	}
	buf := make([]byte, MaxPacketSize)
	// Across the 16-bit wrap: 65500 … 65535, 0 … 99.
	for i := range 136 {
		seq := uint16(65500 + i)
		if !r.Put(packet(1, seq, uint32(i), 200+i)) {
			t.Fatalf("Put(seq %d): refused, want kept", seq)
		}
	}
	tests := []struct {
		name string
		seq  uint16
		ok   bool
	}{
		{"newest", 99, true},
		{"just after the wrap", 0, true},
		{"oldest still held", 65500 + 8, true},
		{"overwritten by the wrap of the ring", 65500 + 7, false},
		{"long gone", 65500, false},
		{"never sent", 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := r.Get(tt.seq, buf)
			if ok != tt.ok {
				t.Fatalf("Get(%d): got ok=%v, want %v", tt.seq, ok, tt.ok)
			}
			if !ok {
				return
			}
			i := int(uint16(tt.seq - 65500))
			if want := packet(1, tt.seq, uint32(i), 200+i); !bytes.Equal(buf[:n], want) {
				t.Fatalf("Get(%d): got %d bytes differing from the %d put", tt.seq, n, len(want))
			}
		})
	}
}

func TestRingRefuses(t *testing.T) {
	r := NewRing(16)
	r.Put(packet(1, 1000, 0, 100))
	tests := []struct {
		name string
		pkt  []byte
	}{
		{"too old for the ring", packet(1, 1000-16, 0, 100)},
		{"larger than MaxPacketSize", packet(1, 1001, 0, MaxPacketSize+1)},
		{"shorter than an RTP header", []byte{0x80, 96, 0, 1}},
		{"not RTP version 2", append([]byte{0x40}, packet(1, 1002, 0, 100)[1:]...)},
	}
	for _, tt := range tests {
		if r.Put(tt.pkt) {
			t.Errorf("Put(%s): kept, want refused", tt.name)
		}
	}
	// A late packet the ring still covers is kept.
	if !r.Put(packet(1, 995, 0, 100)) {
		t.Error("Put of a late packet within the ring: refused, want kept")
	}
	if _, ok := r.Get(1000, make([]byte, 10)); ok {
		t.Error("Get into a too small buffer: got ok, want false")
	}
}

func TestRingOneWriterManyReaders(t *testing.T) {
	r := NewRing(256)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, MaxPacketSize)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for seq := range uint16(512) {
					if n, ok := r.Get(seq, buf); ok && binary.BigEndian.Uint16(buf[2:]) != seq {
						t.Errorf("Get(%d): got a packet with seq %d (%d bytes)", seq, binary.BigEndian.Uint16(buf[2:]), n)
						return
					}
				}
			}
		}()
	}
	for seq := range uint16(4096) {
		r.Put(packet(1, seq, 0, 300))
	}
	close(stop)
	wg.Wait()
}

func TestRingDoesNotAllocate(t *testing.T) {
	r := NewRing(512)
	pkt := packet(1, 0, 0, 1200)
	buf := make([]byte, MaxPacketSize)
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		r.Put(pkt)
		r.Get(seq-10, buf)
	})
	if allocs != 0 {
		t.Fatalf("Put+Get: got %v allocations per packet, want 0", allocs)
	}
}

// step is one packet through a Rewriter and what must come out.
type step struct {
	ssrc     uint32
	seq      uint16
	ts       uint32
	switchTo bool
	gap      uint32
	skip     bool
	send     bool
	outSeq   uint16
	outTS    uint32
}

func TestRewriter(t *testing.T) {
	const out = 0xabc
	tests := []struct {
		name  string
		steps []step
	}{
		{"one source passes through, with our SSRC", []step{
			{ssrc: 1, seq: 10, ts: 1000, send: true, outSeq: 10, outTS: 1000},
			{ssrc: 1, seq: 11, ts: 1090, send: true, outSeq: 11, outTS: 1090},
		}},
		{"a layer switch continues the numbering and the clock", []step{
			{ssrc: 1, seq: 10, ts: 1000, send: true, outSeq: 10, outTS: 1000},
			{ssrc: 1, seq: 11, ts: 1090, send: true, outSeq: 11, outTS: 1090},
			{ssrc: 2, seq: 500, ts: 77000, switchTo: true, gap: 90, send: true, outSeq: 12, outTS: 1180},
			{ssrc: 2, seq: 501, ts: 77090, send: true, outSeq: 13, outTS: 1270},
			// The old layer's late packet is not sent any more.
			{ssrc: 1, seq: 12, ts: 1180, send: false},
			{ssrc: 2, seq: 502, ts: 77180, send: true, outSeq: 14, outTS: 1360},
		}},
		{"a reordered packet keeps its place", []step{
			{ssrc: 1, seq: 10, ts: 100, send: true, outSeq: 10, outTS: 100},
			{ssrc: 1, seq: 12, ts: 300, send: true, outSeq: 12, outTS: 300},
			{ssrc: 1, seq: 11, ts: 200, send: true, outSeq: 11, outTS: 200},
			{ssrc: 1, seq: 13, ts: 400, send: true, outSeq: 13, outTS: 400},
		}},
		{"packets from before the source's start are dropped", []step{
			{ssrc: 1, seq: 10, ts: 100, send: true, outSeq: 10, outTS: 100},
			{ssrc: 2, seq: 50, ts: 900, switchTo: true, gap: 10, send: true, outSeq: 11, outTS: 110},
			{ssrc: 2, seq: 49, ts: 890, send: false},
			{ssrc: 2, seq: 51, ts: 910, send: true, outSeq: 12, outTS: 120},
		}},
		{"the 16-bit wrap", []step{
			{ssrc: 1, seq: 65534, ts: 1, send: true, outSeq: 65534, outTS: 1},
			{ssrc: 1, seq: 65535, ts: 2, send: true, outSeq: 65535, outTS: 2},
			{ssrc: 1, seq: 0, ts: 3, send: true, outSeq: 0, outTS: 3},
		}},
		{"a skipped packet leaves no gap", []step{
			{ssrc: 1, seq: 10, ts: 100, send: true, outSeq: 10, outTS: 100},
			{ssrc: 1, seq: 11, ts: 100, skip: true},
			{ssrc: 1, seq: 12, ts: 200, send: true, outSeq: 11, outTS: 200},
			{ssrc: 1, seq: 11, ts: 100, send: false}, // late copy of the skipped one
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewRewriter(out)
			for i, s := range tt.steps {
				pkt := packet(s.ssrc, s.seq, s.ts, 40)
				payload := append([]byte(nil), pkt[rtpHeaderLen:]...)
				if s.skip {
					w.Skip(pkt)
					continue
				}
				sent := w.Rewrite(pkt, s.switchTo, s.gap)
				if sent != s.send {
					t.Fatalf("step %d (ssrc %d seq %d): got send=%v, want %v", i, s.ssrc, s.seq, sent, s.send)
				}
				if !sent {
					continue
				}
				h, _ := parseHeader(pkt)
				if h.seq != s.outSeq || h.ts != s.outTS || h.ssrc != out {
					t.Fatalf("step %d (ssrc %d seq %d): got seq %d ts %d ssrc %#x, want seq %d ts %d ssrc %#x",
						i, s.ssrc, s.seq, h.seq, h.ts, h.ssrc, s.outSeq, s.outTS, out)
				}
				if !bytes.Equal(pkt[rtpHeaderLen:], payload) {
					t.Fatalf("step %d: the payload changed", i)
				}
			}
		})
	}
}

func TestRewriterDoesNotAllocate(t *testing.T) {
	w := NewRewriter(7)
	pkt := packet(1, 0, 0, 1200)
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[8:], 1) // the source's SSRC again
		w.Rewrite(pkt, false, 0)
	})
	if allocs != 0 {
		t.Fatalf("Rewrite: got %v allocations per packet, want 0", allocs)
	}
}

func BenchmarkForward(b *testing.B) {
	r := NewRing(1024)
	w := NewRewriter(7)
	src := packet(1, 0, 0, 1200)
	out := make([]byte, MaxPacketSize)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint16(src[2:], uint16(i))
		r.Put(src)
		n := copy(out, src)
		w.Rewrite(out[:n], false, 0)
	}
}
