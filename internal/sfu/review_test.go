package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// settled waits until the peer has no offer pending.
func settled(t testing.TB, s *SFU, callID, peerID string) *peer {
	t.Helper()
	var p *peer
	eventually(t, peerID+" negotiation settled", func() bool {
		var err error
		p, err = s.peer(callID, peerID)
		if err != nil {
			return false
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return !p.offerPending && !p.dirty
	})
	return p
}

// TestChurnReusesTransceivers has another participant join and leave
// again and again: the m-lines its tracks took in a's peer connection
// are reused, so that a's transceivers and offer stay the size they
// had after the first cycle.
func TestChurnReusesTransceivers(t *testing.T) {
	s := newSFU(t, Config{})
	a := join(t, s, "c", "pa", "a", joinOpts{video: true, audio: true})
	var firstN, firstSDP int
	var lastSSRC uint32
	for i := range 6 {
		b := join(t, s, "c", "pb", "b", joinOpts{video: true, audio: true})
		eventually(t, "a receiving b's tracks", func() bool {
			ids := a.ActiveTrackIDs()
			return slices.Contains(ids, "b:camera") && slices.Contains(ids, "b:microphone")
		})
		// The media of this b arrives (on the reused m-line from the second cycle on).
		eventually(t, "a receiving this b's camera", func() bool {
			snap, ok := a.Track("b:camera")
			return ok && snap.SSRC != lastSSRC && snap.Count >= 20
		})
		lastSSRC = checkStream(t, a, "b:camera").SSRC
		if err := s.Leave(context.Background(), "c", "pb"); err != nil {
			t.Fatalf("Leave: %v", err)
		}
		b.Close()
		eventually(t, "a losing b's tracks", func() bool {
			ids := a.ActiveTrackIDs()
			return !slices.Contains(ids, "b:camera") && !slices.Contains(ids, "b:microphone")
		})
		pa := settled(t, s, "c", "pa")
		n := len(pa.pc.GetTransceivers())
		size := len(pa.pc.LocalDescription().SDP)
		t.Logf("cycle %d: a has %d transceivers, offer %d bytes", i, n, size)
		if i == 0 {
			firstN, firstSDP = n, size
			continue
		}
		if n > firstN || size > firstSDP+64 {
			t.Fatalf("cycle %d: a has %d transceivers and a %d-byte offer, after the first cycle %d and %d", i, n, size, firstN, firstSDP)
		}
	}
}

// TestAnswerWithTooManyEncodings: an answer declaring more simulcast
// encodings than the engine reads is refused before Pion applies it;
// the offer stays pending and the client's proper answer is taken.
func TestAnswerWithTooManyEncodings(t *testing.T) {
	s := newSFU(t, Config{})
	ctx := context.Background()
	b := join(t, s, "c", "pb", "b", joinOpts{})
	d := join(t, s, "c", "pd", "d", joinOpts{video: true, rids: []string{"q", "h", "f"}, manual: true, keyedit: -1})
	var offer string
	select {
	case offer = <-d.offers:
	case <-time.After(20 * time.Second):
		t.Fatal("no offer for d")
	}
	ans, err := d.HandleOffer(offer)
	if err != nil {
		t.Fatalf("HandleOffer: %v", err)
	}
	if !strings.Contains(ans, "a=simulcast:send q;h;f") {
		t.Fatalf("the client's answer has no simulcast send q;h;f:\n%s", ans)
	}
	bad := strings.Replace(ans, "a=simulcast:send q;h;f", "a=rid:x send\r\na=rid:y send\r\na=simulcast:send q;h;f;x;y", 1)
	if err := s.Answer(ctx, "c", "pd", bad); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("answer with 5 encodings: got %v, want ErrBadRequest", err)
	}
	if err := s.Answer(ctx, "c", "pd", ans); err != nil {
		t.Fatalf("the proper answer after the refused one: %v", err)
	}
	eventually(t, "b receiving d:camera", func() bool { return b.received("d:camera", 20) })
	checkStream(t, b, "d:camera")
	c := s.calls["c"]
	c.mu.Lock()
	up := c.members["pd"].published[SourceCamera]
	c.mu.Unlock()
	if up == nil || len(up.layers) != 3 {
		t.Fatalf("d:camera: got %v, want 3 layers", up)
	}
}

func TestMaxSendRIDs(t *testing.T) {
	tests := []struct {
		sdp  string
		want int
	}{
		{"v=0\r\nm=audio 9 x 111\r\nm=video 9 x 96\r\n", 0},
		{"m=video 9 x 96\r\na=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n", 3},
		{"m=video 9 x 96\r\na=rid:q send\r\na=rid:h send\r\nm=video 9 x 96\r\na=rid:q send\r\n", 2},
		{"m=video 9 x 96\na=rid:1 send\na=rid:2 send\na=rid:3 send\na=rid:4 send\na=rid:5 recv\n", 4},
		{"m=video 9 x 96\r\na=simulcast:send 1;2,3;4;5\r\n", 5},
		{"m=video 9 x 96\r\na=rid:a recv\r\na=simulcast:recv a;b;c;d\r\n", 0},
	}
	for _, tt := range tests {
		if got := maxSendRIDs(tt.sdp); got != tt.want {
			t.Errorf("maxSendRIDs(%q) = %d, want %d", tt.sdp, got, tt.want)
		}
	}
}

func TestLayerRIDs(t *testing.T) {
	tests := []struct {
		all    []string
		remote string
		want   []string
	}{
		{nil, "", []string{""}},
		{[]string{""}, "", []string{""}},
		{[]string{"f", "q", "h"}, "q", []string{"q", "h", "f"}},
		{[]string{"f", "q", "h", "x", "y", "q"}, "h", []string{"q", "h", "x"}},
	}
	for _, tt := range tests {
		if got := layerRIDs(tt.all, tt.remote); !slices.Equal(got, tt.want) {
			t.Errorf("layerRIDs(%q, %q) = %q, want %q", tt.all, tt.remote, got, tt.want)
		}
	}
}

// TestCandidateLimit: a peer's remote candidates are bounded after the
// answer too.
func TestCandidateLimit(t *testing.T) {
	s := newSFU(t, Config{})
	ctx := context.Background()
	a := join(t, s, "c", "pa", "a", joinOpts{video: true})
	b := join(t, s, "c", "pb", "b", joinOpts{})
	eventually(t, "b receiving a:camera", func() bool { return b.received("a:camera", 20) })
	settled(t, s, "c", "pb")
	refused := -1
	for i := range maxCandidates + 10 {
		raw := fmt.Sprintf(`{"candidate":"candidate:%d 1 udp 2130706431 127.0.0.1 %d typ host","sdpMid":"0","sdpMLineIndex":0}`, 100+i, 20000+i)
		err := s.Candidate(ctx, "c", "pb", json.RawMessage(raw))
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("candidate %d: got %v, want ErrBadRequest", i, err)
			}
			refused = i
			break
		}
	}
	// b's client trickled its own few first.
	if refused < maxCandidates-8 || refused > maxCandidates {
		t.Fatalf("first candidate refused: %d, want about %d", refused, maxCandidates)
	}
	before, _ := b.Track("a:camera")
	eventually(t, "b still receiving", func() bool { return b.received("a:camera", before.Count+20) })
	_ = a
}

// TestCandidateAddresses: outside loopback mode, a candidate naming the
// SFU host's own or link-local network is refused.
func TestCandidateAddresses(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	if err := s.Join(ctx, JoinRequest{Call: "c", Peer: "p", User: "u", Kind: "audio"}, func(Signal) {}); err != nil {
		t.Fatalf("Join: %v", err)
	}
	cand := func(addr string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"candidate":"candidate:1 1 udp 2130706431 %s 5000 typ host","sdpMid":"0","sdpMLineIndex":0}`, addr))
	}
	for _, addr := range []string{"127.0.0.1", "127.1.2.3", "::1", "169.254.169.254", "fe80::1", "0.0.0.0", "::", "224.0.0.251", "ff02::1", "::ffff:127.0.0.1"} {
		if err := s.Candidate(ctx, "c", "p", cand(addr)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("candidate at %s: got %v, want ErrBadRequest", addr, err)
		}
	}
	for _, addr := range []string{"192.0.2.10", "10.1.2.3", "2001:db8::1", "0c1f6a3e-1b2c-4d5e-8f90-123456789abc.local"} {
		if err := s.Candidate(ctx, "c", "p", cand(addr)); err != nil {
			t.Errorf("candidate at %s: got %v, want nil", addr, err)
		}
	}
	// srflx: the address probed is the first, not the related one.
	srflx := json.RawMessage(`{"candidate":"candidate:2 1 udp 1686052607 198.51.100.7 6000 typ srflx raddr 10.0.0.2 rport 5000","sdpMid":"0"}`)
	if err := s.Candidate(ctx, "c", "p", srflx); err != nil {
		t.Errorf("srflx candidate: got %v, want nil", err)
	}
}

// TestJoinAgainReplacesPeer: a Join of a joined peer id closes the old
// peer (the others renegotiate as on Leave) and makes a new one.
func TestJoinAgainReplacesPeer(t *testing.T) {
	m := &testMetrics{}
	s := newSFU(t, Config{Metrics: m})
	a := join(t, s, "c", "pa", "a", joinOpts{video: true})
	b1 := join(t, s, "c", "pb", "b", joinOpts{video: true})
	eventually(t, "b1 receiving a:camera", func() bool { return b1.received("a:camera", 20) })
	eventually(t, "a receiving b:camera", func() bool { return a.received("b:camera", 20) })
	old, err := s.peer("c", "pb")
	if err != nil {
		t.Fatal(err)
	}
	first, _ := a.Track("b:camera")
	b1.Close()

	b2 := join(t, s, "c", "pb", "b", joinOpts{video: true})
	if st := old.pc.ConnectionState(); st != webrtc.PeerConnectionStateClosed {
		t.Errorf("the first peer's connection: got %s, want closed", st)
	}
	cur, err := s.peer("c", "pb")
	if err != nil || cur == old {
		t.Fatalf("peer pb after the second join: got %p (%v), want a new peer", cur, err)
	}
	eventually(t, "b2 receiving a:camera", func() bool { return b2.received("a:camera", 20) })
	checkStream(t, b2, "a:camera")
	eventually(t, "a receiving the new b:camera", func() bool {
		snap, ok := a.Track("b:camera")
		return ok && snap.SSRC != first.SSRC && snap.Count >= 20
	})
	if l := s.Load(); l.Peers != 2 || l.Tracks != 2 || m.peers.Load() != 2 || m.tracks.Load() != 2 {
		t.Errorf("got Load %+v and metrics peers %d tracks %d, want 2 peers and 2 tracks", l, m.peers.Load(), m.tracks.Load())
	}
}

func TestREMBSaturates(t *testing.T) {
	// A REMB with a raw exponent and mantissa (Pion's marshaller picks
	// the smallest exponent, so these are built by hand).
	remb := func(exp uint8, mant uint32) []byte {
		b := []byte{
			0x8f, 206, 0, 4, // V=2 FMT=15, PSFB, length 4 (20 bytes)
			0, 0, 0, 1, // sender SSRC
			0, 0, 0, 0, // media SSRC
			'R', 'E', 'M', 'B',
			0, 0, 0, 0, // num SSRC, exp|mantissa
		}
		b[17] = exp<<2 | byte(mant>>16&3)
		b[18], b[19] = byte(mant>>8), byte(mant)
		return b
	}
	tests := []struct {
		exp  uint8
		mant uint32
		want int64
	}{
		{0, 0, minEstimate},
		{0, 1, minEstimate},
		{4, 125_000, 2_000_000},
		{46, 0x3ffff, maxEstimate}, // above 2^63: negative as int64 without saturation
		{45, 0x3ffff, maxEstimate}, // just under 2^63
		{46, 1, maxEstimate},
		{62, 1, maxEstimate},
		{63, 1, maxEstimate},       // 2^63: negative as int64 without saturation
		{63, 0x3ffff, maxEstimate}, // wraps without saturation
		{63, 0, minEstimate},
		{50, 0x20000, maxEstimate},
	}
	for _, tt := range tests {
		var e lossEstimator
		got, ok := e.update(remb(tt.exp, tt.mant), time.Unix(1000, 0))
		if !ok || got != tt.want {
			t.Errorf("REMB exp %d mantissa %#x: got %d (%v), want %d", tt.exp, tt.mant, got, ok, tt.want)
		}
	}
	for _, tt := range []struct {
		mant uint64
		exp  uint
		want int64
	}{
		{1, 62, 1 << 62}, {1, 63, math.MaxInt64}, {3, 62, math.MaxInt64}, {3, 61, 3 << 61},
		{0x3ffff, 45, 0x3ffff << 45}, {0x3ffff, 46, math.MaxInt64}, {0x3ffff, 63, math.MaxInt64}, {0, 63, 0},
	} {
		if got := rembBitrate(tt.mant, tt.exp); got != tt.want {
			t.Errorf("rembBitrate(%#x, %d) = %d, want %d", tt.mant, tt.exp, got, tt.want)
		}
	}
}
