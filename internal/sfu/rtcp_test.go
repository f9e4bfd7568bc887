package sfu

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"
)

// nack builds a generic NACK for media with (pid, blp) pairs.
func nack(media uint32, pairs ...[2]uint16) []byte {
	p := make([]byte, feedbackLen+4*len(pairs))
	p[0] = rtpVersion<<6 | fmtNACK
	p[1] = rtcpRTPFB
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)/4-1))
	binary.BigEndian.PutUint32(p[4:], 0x1111)
	binary.BigEndian.PutUint32(p[8:], media)
	for i, pr := range pairs {
		binary.BigEndian.PutUint16(p[feedbackLen+4*i:], pr[0])
		binary.BigEndian.PutUint16(p[feedbackLen+4*i+2:], pr[1])
	}
	return p
}

func pli(media uint32) []byte {
	p := make([]byte, feedbackLen)
	p[0] = rtpVersion<<6 | fmtPLI
	p[1] = rtcpPSFB
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)/4-1))
	binary.BigEndian.PutUint32(p[8:], media)
	return p
}

// receiverReport is an RR with no report blocks: skipped by ReadFeedback.
func receiverReport() []byte {
	return []byte{rtpVersion << 6, 201, 0, 1, 0, 0, 0, 9}
}

func TestReadFeedback(t *testing.T) {
	type got struct {
		nacks []uint16
		plis  []uint32
	}
	tests := []struct {
		name    string
		buf     []byte
		want    got
		wantErr bool
	}{
		{"one lost packet", nack(7, [2]uint16{100, 0}), got{nacks: []uint16{100}}, false},
		{"a bitmask", nack(7, [2]uint16{100, 0b101}), got{nacks: []uint16{100, 101, 103}}, false},
		{"across the wrap", nack(7, [2]uint16{65535, 0b1}), got{nacks: []uint16{65535, 0}}, false},
		{"two entries", nack(7, [2]uint16{5, 0}, [2]uint16{50, 0x8000}), got{nacks: []uint16{5, 50, 66}}, false},
		{"a compound packet: report, NACK, PLI", slices.Concat(receiverReport(), nack(7, [2]uint16{9, 0}), pli(7)),
			got{nacks: []uint16{9}, plis: []uint32{7}}, false},
		{"truncated header", []byte{0x81, 205}, got{}, true},
		{"length beyond the buffer", nack(7, [2]uint16{1, 0})[:14], got{}, true},
		{"not version 2", append([]byte{0x41}, nack(7, [2]uint16{1, 0})[1:]...), got{}, true},
		{"a good packet, then garbage", append(nack(7, [2]uint16{3, 0}), 0xff), got{nacks: []uint16{3}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g got
			err := ReadFeedback(tt.buf, Feedback{
				OnNACK: func(media uint32, seq uint16) {
					if media != 7 {
						t.Errorf("NACK media SSRC: got %d, want 7", media)
					}
					g.nacks = append(g.nacks, seq)
				},
				OnPLI: func(media uint32) { g.plis = append(g.plis, media) },
			})
			if tt.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrBadRTCP)) {
				t.Fatalf("error: got %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(g.nacks, tt.want.nacks) || !slices.Equal(g.plis, tt.want.plis) {
				t.Fatalf("got NACKs %v PLIs %v, want %v %v", g.nacks, g.plis, tt.want.nacks, tt.want.plis)
			}
		})
	}
}

// TestNACKAnsweredFromRing: what the forwarder does with a subscriber's
// NACK: the lost packets still in the track's ring are found and resent
// (rewritten for that subscriber); the ones gone are not.
func TestNACKAnsweredFromRing(t *testing.T) {
	r := NewRing(64)
	for seq := range uint16(200) {
		r.Put(packet(1, seq, uint32(seq)*90, 500))
	}
	buf := make([]byte, MaxPacketSize)
	var resent, missing []uint16
	err := ReadFeedback(nack(1, [2]uint16{190, 0b11}, [2]uint16{100, 0}), Feedback{
		OnNACK: func(_ uint32, seq uint16) {
			if n, ok := r.Get(seq, buf); ok && n == 500 && binary.BigEndian.Uint16(buf[2:]) == seq {
				resent = append(resent, seq)
			} else if !ok {
				missing = append(missing, seq)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resent, []uint16{190, 191, 192}) || !slices.Equal(missing, []uint16{100}) {
		t.Fatalf("resent %v, missing %v; want [190 191 192] resent and [100] gone from the ring", resent, missing)
	}
}

func TestReadFeedbackDoesNotAllocate(t *testing.T) {
	buf := slices.Concat(receiverReport(), nack(7, [2]uint16{9, 0xffff}), pli(7))
	n := 0
	fb := Feedback{OnNACK: func(uint32, uint16) { n++ }, OnPLI: func(uint32) { n++ }}
	if allocs := testing.AllocsPerRun(1000, func() { _ = ReadFeedback(buf, fb) }); allocs != 0 {
		t.Fatalf("ReadFeedback: got %v allocations, want 0", allocs)
	}
}

func TestKeyframeThrottle(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	k := NewKeyframeThrottle(500 * time.Millisecond)
	steps := []struct {
		ms      int
		request bool // Request (true) or Due (false)
		want    bool
	}{
		{0, true, true},    // the first is sent at once
		{100, true, false}, // inside the interval: remembered
		{200, true, false},
		{300, false, false}, // still inside
		{500, false, true},  // due: one keyframe for both askers
		{600, false, false}, // nothing left
		{1100, true, true},  // a new interval
		{1200, false, false},
	}
	for _, s := range steps {
		var got bool
		if s.request {
			got = k.Request(at(s.ms))
		} else {
			got = k.Due(at(s.ms))
		}
		if got != s.want {
			t.Fatalf("at %d ms, request=%v: got %v, want %v", s.ms, s.request, got, s.want)
		}
	}
}

func FuzzReadFeedback(f *testing.F) {
	f.Add(slices.Concat(receiverReport(), nack(7, [2]uint16{9, 0xffff}), pli(7)))
	f.Add(nack(1, [2]uint16{65535, 1}))
	f.Fuzz(func(t *testing.T, buf []byte) {
		n := 0
		err := ReadFeedback(buf, Feedback{OnNACK: func(uint32, uint16) { n++ }, OnPLI: func(uint32) { n++ }})
		if err != nil && !errors.Is(err, ErrBadRTCP) {
			t.Fatalf("error %v is not ErrBadRTCP", err)
		}
		if n > 17*len(buf) {
			t.Fatalf("%d reports from %d bytes", n, len(buf))
		}
	})
}
