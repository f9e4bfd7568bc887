package sfu

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// Sources a peer publishes.
const (
	SourceCamera     = "camera"
	SourceMicrophone = "microphone"
	SourceScreen     = "screen"
)

// maxEarlyCandidates bounds the candidates kept for a peer before its
// first answer (a client trickling garbage must not grow memory), and
// maxCandidates all the remote candidates of a peer: the SFU never
// restarts ICE, and each candidate is a pair Pion's agent checks.
const (
	maxEarlyCandidates = 64
	maxCandidates      = 128
)

// peer is one participant's PeerConnection. The SFU is always the
// offerer, with at most one offer outstanding: changes made while one is
// pending (tracks added or removed, a screen share) are coalesced into
// the next offer, sent when the answer arrives.
type peer struct {
	sfu            *SFU
	call           *call
	id, user, kind string
	pc             *webrtc.PeerConnection
	q              *signalQueue
	published      map[string]*upTrack               // by source; guarded by call.mu
	subs           map[*upTrack]*downTrack           // what it receives; guarded by call.mu
	wg             sync.WaitGroup                    // the peer's track and RTCP readers
	mu             sync.Mutex                        // guards the fields below
	closed         bool                              // close has started; nothing new starts
	offerPending   bool                              // an offer awaits its answer
	dirty          bool                              // a change awaits the next offer
	remoteSet      bool                              // an answer was applied (candidates can be added)
	early          []webrtc.ICECandidateInit         // candidates received before that
	candidates     int                               // remote candidates taken (early ones included)
	sources        map[*webrtc.RTPTransceiver]string // what each transceiver the client publishes on carries (mid → source)
	offeredMids    []string                          // mids of sources in the pending offer
	answeredMids   map[string]bool                   // mids of sources an applied answer covered: simulcast is asked for once
	offers         uint64                            // offers created
	answered       uint64                            // the latest offer an answer was applied to (by its count in offers)
	released       []released                        // m-lines a subscription left, in the order they were released
}

// released is a transceiver a subscription left: still sendonly, with
// its sender but no track, so the next offer has the m-line without
// a=msid and a=ssrc (the client ends the track it received there). Once
// an answer to that offer (the first one created after the release,
// number offer) is applied, the m-line is reused for the next
// subscription of its kind, with a new sender (a new SSRC).
//
// The m-line is not made inactive (RemoveTrack): Pion as answerer stops
// a transceiver whose m-line an offer makes inactive, and from the
// second such offer on it stops the fresh receiver it had put in, which
// then never receives again.
type released struct {
	t     *webrtc.RTPTransceiver
	offer uint64
}

func newPeer(s *SFU, c *call, req JoinRequest, signal func(Signal)) (*peer, error) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &peer{
		sfu: s, call: c, id: req.Peer, user: req.User, kind: req.Kind, pc: pc,
		q:         newSignalQueue(signal),
		published: map[string]*upTrack{},
		subs:      map[*upTrack]*downTrack{},
		sources:   map[*webrtc.RTPTransceiver]string{},

		answeredMids: map[string]bool{},
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return // gathering done; the client needs no end-of-candidates
		}
		b, err := json.Marshal(cand.ToJSON())
		if err != nil {
			return
		}
		p.q.candidate(b)
	})
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed {
			s.reapFailed(p)
		}
	})
	if err := p.addRecv(SourceMicrophone); err != nil {
		p.close()
		return nil, err
	}
	if req.Kind == "video" {
		if err := p.addRecv(SourceCamera); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

// addRecv adds a transceiver for the client to publish source on.
func (p *peer) addRecv(source string) error {
	kind := webrtc.RTPCodecTypeVideo
	if source == SourceMicrophone {
		kind = webrtc.RTPCodecTypeAudio
	}
	t, err := p.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	if err != nil {
		return fmt.Errorf("add %s transceiver: %w", source, err)
	}
	p.mu.Lock()
	p.sources[t] = source
	p.mu.Unlock()
	return nil
}

func (p *peer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// negotiate sends a new offer, or marks one due when an offer is pending.
func (p *peer) negotiate() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.negotiateLocked()
}

func (p *peer) negotiateLocked() {
	if p.closed {
		return
	}
	if p.offerPending {
		p.dirty = true
		return
	}
	p.dirty = false
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.sfu.log.Warn("sfu: offer", "call", p.call.id, "peer", p.id, "err", err)
		return
	}
	p.offerPending = true
	p.offers++
	p.q.offer(askSimulcast(offer.SDP, p.simulcastMidsLocked()))
}

// simulcastMidsLocked lists the video sources' mids to ask simulcast for
// in the offer just created, and records the offer's source mids: a mid
// is asked until an answer covers it, and never again after that (JSEP
// does not let a later offer add RIDs to a negotiated m-line; Pion
// repeats those the answer accepted). p.mu is held.
func (p *peer) simulcastMidsLocked() map[string]bool {
	p.offeredMids = p.offeredMids[:0]
	ask := map[string]bool{}
	for t, source := range p.sources {
		mid := t.Mid()
		if mid == "" {
			continue
		}
		p.offeredMids = append(p.offeredMids, mid)
		if source != SourceMicrophone && !p.answeredMids[mid] {
			ask[mid] = true
		}
	}
	return ask
}

func (p *peer) answer(sdp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("peer %s: %w", p.id, ErrNotFound)
	}
	if !p.offerPending {
		return fmt.Errorf("peer %s has no offer pending: %w", p.id, ErrConflict)
	}
	sdp = answerSendRIDs(sdp)
	if n := maxSendRIDs(sdp); n > maxLayers {
		// Refused before Pion reads it: the offer stays pending, and the
		// client may answer it again.
		return fmt.Errorf("peer %s: %d simulcast encodings in a media section, at most %d: %w", p.id, n, maxLayers, ErrBadRequest)
	}
	err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		if p.pc.SignalingState() == webrtc.SignalingStateStable {
			// Pion got far enough to leave the offer; the next change
			// starts a new one.
			p.offerPending = false
		}
		return fmt.Errorf("peer %s: %v: %w", p.id, err, ErrBadRequest)
	}
	p.offerPending = false
	p.answered = p.offers
	for _, mid := range p.offeredMids {
		p.answeredMids[mid] = true
	}
	if !p.remoteSet {
		p.remoteSet = true
		for _, c := range p.early {
			if err := p.pc.AddICECandidate(c); err != nil {
				p.sfu.log.Debug("sfu: early candidate", "peer", p.id, "err", err)
			}
		}
		p.early = nil
	}
	if p.dirty {
		p.negotiateLocked()
	}
	return nil
}

func (p *peer) candidate(c webrtc.ICECandidateInit) error {
	if c.Candidate == "" {
		return nil // end of candidates
	}
	cand, err := ice.UnmarshalCandidate(strings.TrimPrefix(c.Candidate, "candidate:"))
	if err != nil {
		return fmt.Errorf("peer %s: %v: %w", p.id, err, ErrBadRequest)
	}
	if !p.sfu.cfg.Loopback && !reachableAddress(cand.Address()) {
		return fmt.Errorf("peer %s: candidate address %s: %w", p.id, cand.Address(), ErrBadRequest)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("peer %s: %w", p.id, ErrNotFound)
	}
	if p.candidates >= maxCandidates {
		return fmt.Errorf("peer %s: more than %d candidates: %w", p.id, maxCandidates, ErrBadRequest)
	}
	if !p.remoteSet {
		if len(p.early) >= maxEarlyCandidates {
			return fmt.Errorf("peer %s: more than %d candidates before the answer: %w", p.id, maxEarlyCandidates, ErrBadRequest)
		}
		p.early = append(p.early, c)
		p.candidates++
		return nil
	}
	if err := p.pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("peer %s: %v: %w", p.id, err, ErrBadRequest)
	}
	p.candidates++
	return nil
}

// reachableAddress reports whether a client's candidate address may be
// probed: not a loopback, link-local, unspecified or multicast address
// (the SFU's own host or network, not the client's). A hostname (an
// mDNS .local name) is left to Pion, which with mDNS off resolves none.
func reachableAddress(address string) bool {
	ip, err := netip.ParseAddr(address)
	if err != nil {
		return true
	}
	ip = ip.Unmap()
	return !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() &&
		!ip.IsInterfaceLocalMulticast() && !ip.IsMulticast() && !ip.IsUnspecified()
}

func (p *peer) publish(source string) error {
	switch source {
	case SourceMicrophone, SourceCamera, SourceScreen:
	default:
		return fmt.Errorf("source %q: %w", source, ErrBadRequest)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("peer %s: %w", p.id, ErrNotFound)
	}
	for _, s := range p.sources {
		if s == source {
			return nil // already offered
		}
	}
	if len(p.sources) >= p.sfu.cfg.MaxTracks {
		return fmt.Errorf("peer %s publishes %d tracks: %w", p.id, len(p.sources), ErrTooManyTracks)
	}
	t, err := p.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	if err != nil {
		return fmt.Errorf("peer %s: add %s transceiver: %w", p.id, source, err)
	}
	p.sources[t] = source
	p.negotiateLocked()
	return nil
}

// onTrack runs (in Pion's goroutine, one per incoming track or
// simulcast layer) for the first packet of a track: it becomes the
// track's reader until the track ends.
func (p *peer) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	source := ""
	for _, t := range p.pc.GetTransceivers() {
		if t.Receiver() == recv {
			source = p.sources[t]
			break
		}
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	if source == "" {
		p.sfu.log.Warn("sfu: track on no known transceiver", "peer", p.id, "track", remote.ID())
		return
	}
	l := p.call.attach(p, source, remote, recv)
	if l == nil {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		l.drainRTCP(recv, remote.RID())
	}()
	l.run(remote)
}

// sendTransceiverLocked returns the transceiver dt is sent on: a
// released one of its kind that the client has seen released, given a
// new sender, else a new sendonly one. Reusing m-lines keeps the session
// description the size of the call, not of its history of joins and
// leaves. (Pion's AddTrack reuses a transceiver too, but the first free
// one of the kind, which can be one the client publishes on.) p.mu is
// held.
func (p *peer) sendTransceiverLocked(dt *downTrack) (*webrtc.RTPTransceiver, error) {
	for i, r := range p.released {
		t := r.t
		old := t.Sender()
		if r.offer > p.answered || t.Kind() != dt.Kind() || old == nil || old.Track() != nil ||
			t.Direction() != webrtc.RTPTransceiverDirectionSendonly {
			continue
		}
		sender, err := p.sfu.api.NewRTPSender(dt, p.pc.SCTP().Transport())
		if err != nil {
			// The m-line stays released for a later try; a fresh one
			// serves this subscription.
			p.sfu.log.Debug("sfu: new sender for a released m-line", "peer", p.id, "mid", t.Mid(), "err", err)
			break
		}
		if err := t.SetSender(sender, dt); err != nil {
			_ = sender.Stop()
			p.sfu.log.Debug("sfu: reuse transceiver", "peer", p.id, "mid", t.Mid(), "err", err)
			break
		}
		p.released = slices.Delete(p.released, i, i+1)
		// Only now: the old sender's RTCP reader ends with it.
		if err := old.Stop(); err != nil {
			p.sfu.log.Debug("sfu: stop released sender", "peer", p.id, "err", err)
		}
		return t, nil
	}
	return p.pc.AddTransceiverFromTrack(dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
}

// unsubscribe stops sending dt (removed from the topology already); its
// m-line is released for a later subscription.
func (p *peer) unsubscribe(dt *downTrack) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || dt.sender == nil {
		return
	}
	// Unbinds dt: its writes stop.
	if err := dt.sender.ReplaceTrack(nil); err != nil {
		p.sfu.log.Debug("sfu: remove track", "peer", p.id, "track", dt.up.id, "err", err)
		return
	}
	p.released = append(p.released, released{t: dt.tr, offer: p.offers + 1})
}

// close ends the peer: the PeerConnection (which ends every read), the
// published tracks' workers and the signal queue. It waits for all of
// the peer's goroutines.
func (p *peer) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	if err := p.pc.Close(); err != nil {
		p.sfu.log.Debug("sfu: close peer", "peer", p.id, "err", err)
	}
	p.call.mu.Lock()
	ups := make([]*upTrack, 0, len(p.published))
	for _, up := range p.published {
		ups = append(ups, up)
	}
	p.call.mu.Unlock()
	for _, up := range ups {
		up.close()
	}
	p.wg.Wait()
	p.q.close()
}

// signalQueue delivers one peer's signals in order from one goroutine,
// so signal is never called with the engine's locks held. Candidates
// gathered before the first offer is queued wait for it.
type signalQueue struct {
	fn   func(Signal)
	wake chan struct{}
	done chan struct{}

	mu     sync.Mutex // guards the fields below
	items  []Signal
	held   []Signal
	ready  bool
	closed bool
}

func newSignalQueue(fn func(Signal)) *signalQueue {
	q := &signalQueue{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run()
	return q
}

func (q *signalQueue) push(s Signal, offer bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	switch {
	case offer:
		q.items = append(q.items, s)
		q.items = append(q.items, q.held...)
		q.held, q.ready = nil, true
	case !q.ready:
		q.held = append(q.held, s)
		return
	default:
		q.items = append(q.items, s)
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *signalQueue) offer(sdp string) { q.push(Signal{Type: "offer", SDP: sdp}, true) }
func (q *signalQueue) candidate(c json.RawMessage) {
	q.push(Signal{Type: "candidate", Candidate: c}, false)
}
func (q *signalQueue) close() { q.mu.Lock(); q.closed = true; q.mu.Unlock(); q.kick(); <-q.done }
func (q *signalQueue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *signalQueue) run() {
	defer close(q.done)
	for range q.wake {
		q.mu.Lock()
		items, closed := q.items, q.closed
		q.items = nil
		q.mu.Unlock()
		if closed {
			return // the peer is gone: what it was not sent is moot
		}
		for _, s := range items {
			q.fn(s)
		}
	}
}
