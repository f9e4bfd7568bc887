package sfu

import (
	"context"
	"slices"
	"testing"
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
