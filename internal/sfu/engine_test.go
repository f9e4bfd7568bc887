package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/sfu/sfutest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(loadChildEnv) == "1" {
		runLoadChild() // the SFU process of TestLoadLoopback
		return
	}
	goleak.VerifyTestMain(m)
}

// eventually polls cond until it holds, failing after a generous bound
// (loopback ICE + DTLS take well under a second; CI machines are slow).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testMetrics counts what the engine reports.
type testMetrics struct {
	peers, tracks, forwarded, bytes, nacks, rtx, plis atomic.Int64
}

func (m *testMetrics) Peers(d int)         { m.peers.Add(int64(d)) }
func (m *testMetrics) Tracks(d int)        { m.tracks.Add(int64(d)) }
func (m *testMetrics) Forwarded(p, b int)  { m.forwarded.Add(int64(p)); m.bytes.Add(int64(b)) }
func (m *testMetrics) NACKs(n int)         { m.nacks.Add(int64(n)) }
func (m *testMetrics) Retransmitted(n int) { m.rtx.Add(int64(n)) }
func (m *testMetrics) PLIs(n int)          { m.plis.Add(int64(n)) }

func newSFU(t testing.TB, cfg Config) *SFU {
	t.Helper()
	cfg.Loopback = true
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// participant is a sfutest client joined to a call of the engine.
type participant struct {
	*sfutest.Client
	call, peer string
	// manual, when set, makes offers wait in offers instead of being
	// answered, for the tests that answer by hand.
	manual bool
	offers chan string
	closed atomic.Int32 // "closed" signals received
}

type joinOpts struct {
	kind    string
	video   bool // publish VP8 (before the first offer)
	audio   bool // publish Opus
	rids    []string
	manual  bool
	keyedit time.Duration
}

func join(t testing.TB, s *SFU, callID, peerID, user string, o joinOpts) *participant {
	t.Helper()
	p := &participant{call: callID, peer: peerID, manual: o.manual, offers: make(chan string, 16)}
	c, err := sfutest.New(sfutest.Options{OnCandidate: func(raw json.RawMessage) {
		if err := s.Candidate(context.Background(), callID, peerID, raw); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("Candidate from %s: %v", peerID, err)
		}
	}})
	if err != nil {
		t.Fatalf("sfutest.New: %v", err)
	}
	t.Cleanup(c.Close)
	p.Client = c
	if o.audio {
		if _, err := c.PublishOpus(sfutest.SourceOptions{ID: "mic", StreamID: user}); err != nil {
			t.Fatalf("PublishOpus: %v", err)
		}
	}
	if o.video {
		if _, err := c.PublishVP8(sfutest.SourceOptions{ID: "cam", StreamID: user, RIDs: o.rids, KeyframeEvery: o.keyedit}); err != nil {
			t.Fatalf("PublishVP8: %v", err)
		}
	}
	if o.kind == "" {
		o.kind = "video"
	}
	err = s.Join(context.Background(), JoinRequest{Call: callID, Peer: peerID, User: user, Kind: o.kind}, func(sig Signal) {
		switch sig.Type {
		case "offer":
			if p.manual {
				p.offers <- sig.SDP
				return
			}
			p.answer(t, s, sig.SDP)
		case "candidate":
			if err := c.HandleCandidate(sig.Candidate); err != nil {
				t.Errorf("HandleCandidate for %s: %v", peerID, err)
			}
		case "closed":
			p.closed.Add(1)
		default:
			t.Errorf("signal type %q", sig.Type)
		}
	})
	if err != nil {
		t.Fatalf("Join %s: %v", peerID, err)
	}
	return p
}

func (p *participant) answer(t testing.TB, s *SFU, offer string) {
	ans, err := p.HandleOffer(offer)
	if err != nil {
		t.Errorf("HandleOffer for %s: %v", p.peer, err)
		return
	}
	if err := s.Answer(context.Background(), p.call, p.peer, ans); err != nil && !errors.Is(err, ErrNotFound) {
		t.Errorf("Answer from %s: %v", p.peer, err)
	}
}

// received reports whether the participant got at least n packets on a track.
func (p *participant) received(id string, n int64) bool {
	snap, ok := p.Track(id)
	return ok && snap.Count >= n
}

// checkStream verifies a track's payloads and that its sequence numbers
// increase one by one.
func checkStream(t testing.TB, p *participant, id string) sfutest.Snapshot {
	t.Helper()
	snap, ok := p.Track(id)
	if !ok {
		t.Fatalf("%s: no track %s (has %v)", p.peer, id, p.TrackIDs())
	}
	for i, pk := range snap.Packets {
		if err := sfutest.CheckPayload(pk.Payload); err != nil {
			t.Fatalf("%s track %s packet %d (seq %d): %v", p.peer, id, i, pk.Seq, err)
		}
		if i > 0 && pk.Seq != snap.Packets[i-1].Seq+1 {
			t.Fatalf("%s track %s packet %d: got seq %d after %d, want %d", p.peer, id, i, pk.Seq, snap.Packets[i-1].Seq, snap.Packets[i-1].Seq+1)
		}
	}
	return snap
}

func TestCallForwardingRenegotiationLeaveRejoin(t *testing.T) {
	m := &testMetrics{}
	s := newSFU(t, Config{Metrics: m})
	a := join(t, s, "call1", "pa", "a", joinOpts{video: true, audio: true})
	b := join(t, s, "call1", "pb", "b", joinOpts{video: true, audio: true})
	c := join(t, s, "call1", "pc", "c", joinOpts{kind: "audio", audio: true})

	for _, p := range []*participant{b, c} {
		for _, id := range []string{"a:camera", "a:microphone"} {
			eventually(t, p.peer+" receiving "+id, func() bool { return p.received(id, 40) })
			snap := checkStream(t, p, id)
			if snap.StreamID != "a" {
				t.Errorf("%s track %s: got stream id %q, want the publisher's user id %q", p.peer, id, snap.StreamID, "a")
			}
		}
	}
	eventually(t, "a receiving b:camera", func() bool { return a.received("b:camera", 40) })
	checkStream(t, a, "b:camera")
	eventually(t, "b receiving c:microphone", func() bool { return b.received("c:microphone", 20) })
	if _, ok := a.Track("c:camera"); ok {
		t.Errorf("a: got c:camera, but c joined an audio call")
	}

	// A screen share published mid-call reaches the others.
	if _, err := a.PublishVP8(sfutest.SourceOptions{ID: "screen", StreamID: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(context.Background(), "call1", "pa", SourceScreen); err != nil {
		t.Fatalf("Publish screen: %v", err)
	}
	for _, p := range []*participant{b, c} {
		eventually(t, p.peer+" receiving a:screen", func() bool { return p.received("a:screen", 30) })
		checkStream(t, p, "a:screen")
	}

	st, err := s.Stats("call1")
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if len(st.Peers) != 3 {
		t.Fatalf("Stats: got %d peers, want 3", len(st.Peers))
	}
	pa := st.Peers[0]
	if pa.Peer != "pa" || pa.User != "a" || len(pa.Tracks) != 3 {
		t.Fatalf("Stats of pa: got %+v, want peer pa, user a, 3 tracks", pa)
	}
	for _, tr := range pa.Tracks {
		if tr.Packets == 0 || tr.ID != "a:"+tr.Source {
			t.Errorf("Stats track %+v: want packets and id a:<source>", tr)
		}
	}
	eventually(t, "a camera bitrate", func() bool {
		st, _ := s.Stats("call1")
		for _, tr := range st.Peers[0].Tracks {
			if tr.Source == SourceCamera {
				return tr.BitrateKbps > 100 && tr.Kind == "video"
			}
		}
		return false
	})
	l := s.Load()
	// a: mic, camera, screen; b: mic, camera; c: mic. Subscriptions:
	// b gets a's 3 + c's 1, c gets a's 3 + b's 2, a gets b's 2 + c's 1.
	if want := (Load{Calls: 1, Peers: 3, Tracks: 6, Subscriptions: 12}); l != want {
		t.Errorf("Load: got %+v, want %+v", l, want)
	}

	// B leaves: the others' next offer no longer sends b's tracks.
	if err := s.Leave(context.Background(), "call1", "pb"); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	b.Close()
	for _, p := range []*participant{a, c} {
		eventually(t, p.peer+" losing b's tracks", func() bool {
			ids := p.ActiveTrackIDs()
			return !slices.Contains(ids, "b:camera") && !slices.Contains(ids, "b:microphone")
		})
	}
	if err := s.Leave(context.Background(), "call1", "pb"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Leave: got %v, want ErrNotFound", err)
	}

	// And rejoins on a new connection.
	b2 := join(t, s, "call1", "pb2", "b", joinOpts{video: true, audio: true})
	eventually(t, "b2 receiving a:camera", func() bool { return b2.received("a:camera", 40) })
	checkStream(t, b2, "a:camera")
	eventually(t, "a receiving b:camera again", func() bool {
		return slices.Contains(a.ActiveTrackIDs(), "b:camera")
	})
	if m.forwarded.Load() == 0 || m.peers.Load() != 3 {
		t.Errorf("metrics: got forwarded %d, peers %d; want >0 and 3", m.forwarded.Load(), m.peers.Load())
	}
	if err := s.End(context.Background(), "call1"); err != nil {
		t.Fatalf("End: %v", err)
	}
	if err := s.End(context.Background(), "call1"); err != nil {
		t.Fatalf("End again: %v", err)
	}
	if _, err := s.Stats("call1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stats after End: got %v, want ErrNotFound", err)
	}
	if m.peers.Load() != 0 || m.tracks.Load() != 0 {
		t.Errorf("metrics after End: got peers %d tracks %d, want 0 0", m.peers.Load(), m.tracks.Load())
	}
}

func TestNACKAnsweredAndPLIOnJoin(t *testing.T) {
	m := &testMetrics{}
	s := newSFU(t, Config{Metrics: m})
	// Keyframes only on request, so that the PLIs counted are the SFU's.
	a := join(t, s, "c", "pa", "a", joinOpts{video: true, keyedit: -1})
	b := join(t, s, "c", "pb", "b", joinOpts{})
	eventually(t, "b receiving a:camera", func() bool { return b.received("a:camera", 30) })

	before := a.PLIs()
	join(t, s, "c", "pc", "c", joinOpts{})
	eventually(t, "a PLI for the new subscriber", func() bool { return a.PLIs() > before })

	snap := checkStream(t, b, "a:camera")
	pick := snap.Packets[len(snap.Packets)-5]
	if err := b.SendNACK("a:camera", pick.Seq); err != nil {
		t.Fatalf("SendNACK: %v", err)
	}
	eventually(t, "the retransmission", func() bool {
		snap, _ := b.Track("a:camera")
		n := 0
		for _, pk := range snap.Packets {
			if pk.Seq == pick.Seq {
				if string(pk.Payload) != string(pick.Payload) {
					t.Fatalf("retransmission of seq %d: payload differs from the original", pk.Seq)
				}
				n++
			}
		}
		return n >= 2
	})
	if m.nacks.Load() < 1 || m.rtx.Load() < 1 {
		t.Errorf("metrics: got NACKs %d retransmitted %d, want ≥1 each", m.nacks.Load(), m.rtx.Load())
	}
	if m.plis.Load() < 2 {
		t.Errorf("metrics: got %d PLIs, want ≥2 (one per subscriber)", m.plis.Load())
	}
}

func TestBadInput(t *testing.T) {
	s := newSFU(t, Config{MaxTracks: 2})
	ctx := context.Background()
	a := join(t, s, "c", "pa", "a", joinOpts{video: true})
	b := join(t, s, "c", "pb", "b", joinOpts{})
	eventually(t, "b receiving a:camera", func() bool { return b.received("a:camera", 20) })
	// The negotiation settles: b has answered everything.
	eventually(t, "no offer pending for b", func() bool {
		p, err := s.peer("c", "pb")
		if err != nil {
			return false
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return !p.offerPending
	})

	cand := json.RawMessage(`{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}`)
	tests := []struct {
		name string
		err  error
		do   func() error
	}{
		{"answer for an unknown call", ErrNotFound, func() error { return s.Answer(ctx, "nope", "pa", "v=0") }},
		{"answer for an unknown peer", ErrNotFound, func() error { return s.Answer(ctx, "c", "nope", "v=0") }},
		{"answer with no offer pending", ErrConflict, func() error { return s.Answer(ctx, "c", "pb", "v=0") }},
		{"candidate for an unknown peer", ErrNotFound, func() error { return s.Candidate(ctx, "c", "nope", cand) }},
		{"candidate for an unknown call", ErrNotFound, func() error { return s.Candidate(ctx, "x", "pa", cand) }},
		{"candidate that is not JSON", ErrBadRequest, func() error { return s.Candidate(ctx, "c", "pb", json.RawMessage(`{"candidate":`)) }},
		{"candidate that is not a candidate", ErrBadRequest, func() error {
			return s.Candidate(ctx, "c", "pb", json.RawMessage(`{"candidate":"candidate:garbage","sdpMid":"0"}`))
		}},
		{"unknown source", ErrBadRequest, func() error { return s.Publish(ctx, "c", "pa", "webcam2") }},
		{"too many tracks", ErrTooManyTracks, func() error { return s.Publish(ctx, "c", "pa", SourceScreen) }},
		{"publish for an unknown peer", ErrNotFound, func() error { return s.Publish(ctx, "c", "nope", SourceScreen) }},
		{"join with an unknown kind", ErrBadRequest, func() error {
			return s.Join(ctx, JoinRequest{Call: "c", Peer: "px", User: "x", Kind: "hologram"}, func(Signal) {})
		}},
		{"leave of an unknown peer", ErrNotFound, func() error { return s.Leave(ctx, "c", "nope") }},
		{"stats of an unknown call", ErrNotFound, func() error { _, err := s.Stats("nope"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
		})
	}
	if err := s.Publish(ctx, "c", "pa", SourceCamera); err != nil {
		t.Errorf("Publish of the offered camera: got %v, want nil", err)
	}
	if err := s.Publish(ctx, "c", "pa", SourceMicrophone); err != nil {
		t.Errorf("Publish of the offered microphone: got %v, want nil", err)
	}

	t.Run("broken SDP answer", func(t *testing.T) {
		d := join(t, s, "c", "pd", "d", joinOpts{manual: true})
		var offer string
		select {
		case offer = <-d.offers:
		case <-time.After(20 * time.Second):
			t.Fatal("no offer for d")
		}
		if err := s.Answer(ctx, "c", "pd", "this is not SDP"); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("broken answer: got %v, want ErrBadRequest", err)
		}
		// The others' media keeps flowing.
		before, _ := b.Track("a:camera")
		eventually(t, "b still receiving", func() bool { return b.received("a:camera", before.Count+20) })
		// And d, answering properly now, is in the call.
		d.answer(t, s, offer)
		eventually(t, "d receiving a:camera", func() bool { return d.received("a:camera", 20) })
		checkStream(t, d, "a:camera")
	})
	_ = a
}

// TestSimulcast publishes three encodings: the subscriber gets one at a
// time with continuous sequence numbers, switching at keyframes when its
// estimate changes.
func TestSimulcast(t *testing.T) {
	s := newSFU(t, Config{})
	a := join(t, s, "c", "pa", "a", joinOpts{video: true, rids: []string{"q", "h", "f"}, keyedit: -1})
	b := join(t, s, "c", "pb", "b", joinOpts{})
	_ = a
	eventually(t, "b receiving a:camera", func() bool { return b.received("a:camera", 20) })
	dt := func() *downTrack {
		c := s.calls["c"]
		c.mu.Lock()
		defer c.mu.Unlock()
		for up, dt := range c.members["pb"].subs {
			if up.source == SourceCamera {
				return dt
			}
		}
		return nil
	}()
	if dt == nil {
		t.Fatal("no subscription of b to a:camera")
	}
	if n := len(dt.up.layers); n != 3 {
		t.Fatalf("layers: got %d, want 3", n)
	}
	layerOf := func() int {
		snap, _ := b.Track("a:camera")
		return sfutest.PayloadLayer(snap.Packets[len(snap.Packets)-1].Payload)
	}
	if l := layerOf(); l != 0 {
		t.Fatalf("first layer: got %d, want 0 (the lowest, until the estimate allows more)", l)
	}
	dt.testEstimate.Store(10_000_000)
	eventually(t, "switch up to layer 2", func() bool { return layerOf() == 2 })
	dt.testEstimate.Store(200_000)
	eventually(t, "switch down to layer 0", func() bool { return layerOf() == 0 })
	before, _ := b.Track("a:camera")
	eventually(t, "more of layer 0", func() bool { return b.received("a:camera", before.Count+20) })

	snap := checkStream(t, b, "a:camera")
	switches := 0
	for i := 1; i < len(snap.Packets); i++ {
		prev, cur := sfutest.PayloadLayer(snap.Packets[i-1].Payload), sfutest.PayloadLayer(snap.Packets[i].Payload)
		if prev != cur {
			switches++
			if !sfutest.PayloadKeyframe(snap.Packets[i].Payload) {
				t.Fatalf("packet %d: switch from layer %d to %d not at a keyframe", i, prev, cur)
			}
			if snap.Packets[i].TS == snap.Packets[i-1].TS {
				t.Errorf("packet %d: the timestamp did not move at the switch", i)
			}
		}
	}
	if switches < 2 {
		t.Errorf("got %d layer switches, want ≥2", switches)
	}
}

// A peer whose network vanishes (its ICE stops answering, no DTLS
// goodbye) is closed by the engine once Pion declares it failed, with a
// last "closed" signal; the others' media goes on.
func TestFailedPeerIsClosed(t *testing.T) {
	s := newSFU(t, Config{ICEFailedAfter: 2 * time.Second})
	a := join(t, s, "c", "pa", "a", joinOpts{video: true, audio: true})
	b := join(t, s, "c", "pb", "b", joinOpts{})
	c := join(t, s, "c", "pc", "c", joinOpts{})
	eventually(t, "b and c receive a's camera", func() bool { return b.received("a:camera", 10) && c.received("a:camera", 10) })

	if err := b.PC.GetTransceivers()[0].Receiver().Transport().ICETransport().Stop(); err != nil {
		t.Fatalf("stop b's ICE: %v", err)
	}
	eventually(t, "the engine closes b's peer and says so", func() bool { return b.closed.Load() == 1 })
	if l := s.Load(); l.Peers != 2 {
		t.Errorf("Load after b failed: got %d peers, want 2", l.Peers)
	}
	if err := s.Answer(context.Background(), "c", "pb", "v=0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Answer for the closed peer: got %v, want ErrNotFound", err)
	}
	before, _ := c.Track("a:camera")
	eventually(t, "c still receives a's camera", func() bool { return c.received("a:camera", before.Count+30) })
	if a.closed.Load() != 0 || c.closed.Load() != 0 {
		t.Errorf("closed signals: a %d, c %d; want none", a.closed.Load(), c.closed.Load())
	}
}
