package sfu

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Forwarding sizes.
const (
	videoRing = 512 // packets kept per video layer for NACKs (~4 s at 1.5 Mbps)
	audioRing = 128
	// shardThreshold is the subscriber count above which a track's
	// writes are spread over shard workers instead of its reader's loop.
	shardThreshold = 8
	shardCount     = 4
	shardQueue     = 256 // slot refs buffered per shard worker
	// maxLayers is the most simulcast encodings of one track read (and
	// accepted in an answer): browsers send 3.
	maxLayers   = 3
	statsWindow = 2 * time.Second
)

// upTrack is one published track (a source of one peer), with one layer
// per simulcast encoding (one layer without simulcast).
type upTrack struct {
	sfu    *SFU
	pub    *peer
	id     string // "<userID>:<source>", the subscribers' track id
	source string
	kind   webrtc.RTPCodecType
	codec  webrtc.RTPCodecParameters
	vcodec Codec // 0 for audio or a codec without keyframe detection
	layers []*layer
	rates  []int // nominal bits/s per layer, for the layer selectors
	// ringSize is the packets a layer's ring keeps; the ring is made when
	// the layer's reader starts (attach), so that encodings a publisher
	// declares but never sends cost nothing.
	ringSize int

	// subs is the subscribers, replaced whole (copy on write) under
	// call.mu and read without a lock on every packet.
	subs   atomic.Pointer[[]*downTrack]
	shards atomic.Pointer[[]chan slotRef] // set once, when subs outgrow shardThreshold
	done   chan struct{}                  // closed by close: shard workers exit
	wg     sync.WaitGroup                 // shard workers

	packets atomic.Int64
}

// slotRef names a packet in a layer's ring for a shard worker: passed by
// value through a channel, so no allocation per packet.
type slotRef struct {
	layer uint8
	key   bool
	seq   uint16
	at    int64 // arrival, ns (time.Now().UnixNano())
}

// layer is one incoming RTP stream: a track, or one simulcast encoding.
type layer struct {
	up      *upTrack
	idx     int
	rid     string
	ring    *Ring // made (under call.mu) before the reader starts: every other use follows a packet of the reader
	started bool  // a reader was given the layer; guarded by call.mu
	ssrc    atomic.Uint32

	kfMu      sync.Mutex // guards kf
	kf        *KeyframeThrottle
	kfPending atomic.Bool // a request waits in kf for its interval

	// Bitrate, written by the layer's reader only.
	winStart int64
	winBytes int64
	kbps     atomic.Int64
	lastPkt  atomic.Int64
}

func newUpTrack(s *SFU, p *peer, source string, remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) *upTrack {
	up := &upTrack{
		sfu: s, pub: p, id: p.user + ":" + source, source: source,
		kind: remote.Kind(), codec: remote.Codec(), done: make(chan struct{}),
	}
	switch strings.ToLower(up.codec.MimeType) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		up.vcodec = CodecVP8
	case strings.ToLower(webrtc.MimeTypeH264):
		up.vcodec = CodecH264
	}
	var rids []string
	for _, t := range recv.Tracks() {
		rids = append(rids, t.RID())
	}
	rids = layerRIDs(rids, remote.RID())
	up.ringSize = audioRing
	if up.kind == webrtc.RTPCodecTypeVideo {
		up.ringSize = videoRing
	}
	for i, rid := range rids {
		up.layers = append(up.layers, &layer{up: up, idx: i, rid: rid, kf: NewKeyframeThrottle(keyframeEvery)})
	}
	up.rates = nominalRates(len(rids))
	empty := []*downTrack{}
	up.subs.Store(&empty)
	return up
}

// layerRIDs are the layers of a track from the RIDs of its receiver's
// tracks: one layer without RIDs, else at most maxLayers, lowest quality
// first (known names by rank, others as offered), the others ignored
// (peer.answer refuses an answer with more; the history of what a
// subscriber was sent has room for 4 layers).
func layerRIDs(all []string, remote string) []string {
	var rids []string
	for _, rid := range all {
		if rid != "" && !slices.Contains(rids, rid) {
			rids = append(rids, rid)
		}
	}
	if len(rids) == 0 || remote == "" {
		return []string{remote}
	}
	slices.SortStableFunc(rids, func(a, b string) int { return ridRank(a) - ridRank(b) })
	return rids[:min(len(rids), maxLayers)]
}

// ridRank orders the RIDs browsers and SFUs commonly use, lowest first.
func ridRank(rid string) int {
	switch strings.ToLower(rid) {
	case "q", "l", "low", "0":
		return 0
	case "h", "m", "mid", "medium", "1":
		return 1
	case "f", "hi", "high", "full", "2":
		return 2
	}
	return 1
}

// nominalRates are the bitrates the layer selector assumes for n
// simulcast layers (typical browser encodings, 1/4, 1/2 and full
// resolution); the estimate is compared against them.
func nominalRates(n int) []int {
	switch n {
	case 1:
		return []int{0}
	case 2:
		return []int{300_000, 1_200_000}
	}
	r := []int{150_000, 500_000, 1_500_000}
	for len(r) < n {
		r = append(r, r[len(r)-1]*2)
	}
	return r[:n]
}

func (up *upTrack) layerFor(rid string) *layer {
	for _, l := range up.layers {
		if l.rid == rid {
			return l
		}
	}
	return nil
}

// addSub and removeSub replace the subscriber list; call.mu is held.
func (up *upTrack) addSub(dt *downTrack) {
	old := *up.subs.Load()
	subs := append(slices.Clip(old), dt)
	up.subs.Store(&subs)
	if len(subs) > shardThreshold && up.shards.Load() == nil {
		up.startShards()
	}
}

func (up *upTrack) removeSub(dt *downTrack) {
	old := *up.subs.Load()
	subs := slices.DeleteFunc(slices.Clone(old), func(d *downTrack) bool { return d == dt })
	up.subs.Store(&subs)
}

func (up *upTrack) startShards() {
	select {
	case <-up.done:
		return
	default:
	}
	chs := make([]chan slotRef, shardCount)
	for i := range chs {
		chs[i] = make(chan slotRef, shardQueue)
		up.wg.Add(1)
		go func() {
			defer up.wg.Done()
			up.shard(i, chs[i])
		}()
	}
	up.shards.Store(&chs)
}

// shard is one worker of a many-subscriber track: it forwards the packets
// it is handed to the subscribers at its index modulo the shard count.
func (up *upTrack) shard(w int, ch chan slotRef) {
	buf := make([]byte, MaxPacketSize)
	for {
		select {
		case <-up.done:
			return
		case ref := <-ch:
			l := up.layers[ref.layer]
			if l.ring == nil {
				continue
			}
			n, ok := l.ring.Get(ref.seq, buf)
			if !ok {
				continue // overwritten already: the subscribers NACK it
			}
			in, ok := parsePacket(buf[:n])
			if !ok {
				continue
			}
			in.layer, in.key, in.at = int(ref.layer), ref.key, ref.at
			subs := *up.subs.Load()
			sent := 0
			for i := w; i < len(subs); i += shardCount {
				if subs[i].forward(&in) {
					sent++
				}
			}
			up.sfu.metrics.Forwarded(sent, sent*n)
		}
	}
}

// close stops the shard workers and waits for them.
func (up *upTrack) close() {
	select {
	case <-up.done:
	default:
		close(up.done)
	}
	up.wg.Wait()
}

// inPacket is one incoming packet as the subscribers' writers see it:
// the raw bytes and where the payload is, parsed once per packet.
type inPacket struct {
	pkt    []byte
	off    int // payload start (after CSRCs and header extensions)
	end    int // payload end (before padding)
	marker bool
	layer  int
	key    bool
	at     int64
}

// parsePacket finds the payload of an RTP packet.
func parsePacket(pkt []byte) (inPacket, bool) {
	if len(pkt) < rtpHeaderLen || pkt[0]>>6 != rtpVersion {
		return inPacket{}, false
	}
	off := rtpHeaderLen + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 { // extension header
		if len(pkt) < off+4 {
			return inPacket{}, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:off+4]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 { // padding: the last byte counts it
		if end == 0 {
			return inPacket{}, false
		}
		end -= int(pkt[end-1])
	}
	if off > end {
		return inPacket{}, false
	}
	return inPacket{pkt: pkt, off: off, end: end, marker: pkt[1]&0x80 != 0}, true
}

// run reads the layer until the track ends: the one read of each
// incoming packet, which is kept in the ring and forwarded.
func (l *layer) run(remote *webrtc.TrackRemote) {
	l.ssrc.Store(uint32(remote.SSRC()))
	// Subscribers waiting for a picture (joined before the first packet)
	// get one at once.
	l.requestKeyframe()
	buf := make([]byte, MaxPacketSize)
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			return
		}
		l.forward(buf[:n], time.Now().UnixNano())
	}
}

// forward is the per-packet hot path: ring, stats, fan-out. It does not
// allocate.
func (l *layer) forward(pkt []byte, now int64) {
	in, ok := parsePacket(pkt)
	if !ok {
		return
	}
	up := l.up
	in.layer, in.at = l.idx, now
	in.key = up.vcodec != 0 && IsKeyframe(up.vcodec, pkt[in.off:in.end])
	kept := l.ring.Put(pkt)
	up.packets.Add(1)
	l.account(len(pkt), now)
	subs := *up.subs.Load()
	// The shard workers read packets from the ring: one it did not keep
	// (larger than its slots, or too late for it) is written here.
	if shards := up.shards.Load(); shards != nil && len(subs) > shardThreshold && kept {
		ref := slotRef{layer: uint8(l.idx), key: in.key, seq: binary.BigEndian.Uint16(pkt[2:4]), at: now}
		for _, ch := range *shards {
			select {
			case ch <- ref:
			default: // the worker is behind: its subscribers NACK what they miss
			}
		}
	} else {
		sent := 0
		for _, dt := range subs {
			if dt.forward(&in) {
				sent++
			}
		}
		up.sfu.metrics.Forwarded(sent, sent*len(pkt))
	}
	if l.kfPending.Load() {
		l.kfMu.Lock()
		due := l.kf.Due(time.Unix(0, now))
		if due {
			l.kfPending.Store(false)
		}
		l.kfMu.Unlock()
		if due {
			l.sendPLI()
		}
	}
}

// account adds a packet to the layer's bitrate window.
func (l *layer) account(n int, now int64) {
	l.lastPkt.Store(now)
	if l.winStart == 0 {
		l.winStart = now
	}
	l.winBytes += int64(n)
	if el := now - l.winStart; el >= int64(statsWindow) {
		l.kbps.Store(l.winBytes * 8 * int64(time.Millisecond) / el)
		l.winStart, l.winBytes = now, 0
	}
}

// requestKeyframe asks the layer's publisher for a keyframe, at most
// once per keyframeEvery; a refused request is sent when the interval
// has passed (by the reader, on a later packet).
func (l *layer) requestKeyframe() {
	if l.up.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	l.kfMu.Lock()
	now := time.Now()
	ok := l.kf.Request(now)
	if !ok {
		l.kfPending.Store(true)
	}
	l.kfMu.Unlock()
	if ok {
		l.sendPLI()
	}
}

func (l *layer) sendPLI() {
	ssrc := l.ssrc.Load()
	if ssrc == 0 {
		return // not receiving yet: the reader asks when it starts
	}
	err := l.up.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	if err == nil {
		l.up.sfu.metrics.PLIs(1)
	}
}

// drainRTCP reads the publisher's RTCP for this layer (sender reports),
// which Pion's report interceptor needs read to fill receiver reports.
func (l *layer) drainRTCP(recv *webrtc.RTPReceiver, rid string) {
	buf := make([]byte, 1500)
	for {
		var err error
		if rid != "" {
			_, _, err = recv.ReadSimulcast(buf, rid)
		} else {
			_, _, err = recv.Read(buf)
		}
		if err != nil {
			return
		}
	}
}

func (up *upTrack) stats() TrackStats {
	kbps := int64(0)
	stale := time.Now().UnixNano() - int64(3*statsWindow/2)
	for _, l := range up.layers {
		if l.lastPkt.Load() > stale {
			kbps += l.kbps.Load()
		}
	}
	return TrackStats{ID: up.id, Kind: up.kind.String(), Source: up.source, BitrateKbps: int(kbps), Packets: up.packets.Load()}
}
