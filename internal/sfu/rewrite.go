package sfu

// Rewriter turns the packets one subscriber is sent, possibly from several
// sources (simulcast layers) and with packets left out, into one stream
// with its own SSRC and continuous sequence numbers and timestamps, as the
// subscriber's decoder expects.
type Rewriter struct {
	ssrc uint32 // the outgoing stream's SSRC

	started  bool
	src      uint32 // SSRC of the current source
	srcStart uint16 // first incoming seq taken from the current source
	seqOff   uint16 // outgoing seq = incoming seq + seqOff
	tsOff    uint32 // outgoing ts = incoming ts + tsOff
	lastIn   uint16 // newest incoming seq of the current source handled
	lastSeq  uint16 // newest outgoing seq sent
	lastTS   uint32 // timestamp sent with lastSeq
	skipped  bool   // whether a packet of the current source was skipped
	lastSkip uint16 // the newest one skipped
}

// NewRewriter returns a rewriter whose packets carry ssrc.
func NewRewriter(ssrc uint32) *Rewriter { return &Rewriter{ssrc: ssrc} }

// Rewrite rewrites pkt in place for this subscriber and reports whether to
// send it. A packet with switchTo set starts a new source (a layer switch,
// which the caller makes at a keyframe): its sequence number follows the
// last one sent, and its timestamp the last one plus tsGap, the clock ticks
// the caller estimates passed (at least 1). A packet of another source
// without switchTo (a late one of the layer switched away from) is not
// sent. A late packet of the current source (reordered) is rewritten with
// the same offsets; one from before the source's start, whose number the
// previous source may have used, is not sent.
func (w *Rewriter) Rewrite(pkt []byte, switchTo bool, tsGap uint32) bool {
	h, err := parseHeader(pkt)
	if err != nil {
		return false
	}
	switch {
	case !w.started:
		w.started = true
		w.src, w.srcStart, w.lastIn = h.ssrc, h.seq, h.seq-1
		w.seqOff, w.tsOff = 0, 0
		w.lastSeq, w.lastTS = h.seq-1, h.ts
	case switchTo:
		w.src, w.srcStart, w.lastIn, w.skipped = h.ssrc, h.seq, h.seq-1, false
		w.seqOff = w.lastSeq + 1 - h.seq
		w.tsOff = w.lastTS + max(tsGap, 1) - h.ts
	case h.ssrc != w.src:
		return false // a late packet of a source switched away from
	}
	if h.seq != w.srcStart && !seqNewer(h.seq, w.srcStart) {
		return false // before this source's start
	}
	if w.skipped && !seqNewer(h.seq, w.lastSkip) {
		// Late, from before a skip: the skip moved the numbering, so its
		// number would collide with one already sent.
		return false
	}
	out := header{seq: h.seq + w.seqOff, ts: h.ts + w.tsOff, ssrc: w.ssrc}
	if seqNewer(h.seq, w.lastIn) {
		w.lastIn, w.lastSeq, w.lastTS = h.seq, out.seq, out.ts
	}
	writeHeader(pkt, out)
	return true
}

// Skip accounts for a packet of the current source that the subscriber is
// not sent (padding, a layer's packet it does not need), so that the next
// packet sent follows on without a gap, which the subscriber would
// otherwise NACK. Only the newest packet can be skipped: a late one is
// ignored, as is one from another source. Packets older than a skipped one
// that arrive after it are not sent.
func (w *Rewriter) Skip(pkt []byte) {
	h, err := parseHeader(pkt)
	if err != nil || !w.started || h.ssrc != w.src || !seqNewer(h.seq, w.lastIn) {
		return
	}
	// Every packet between lastIn and this one is sent or lost; this one
	// alone is removed from the outgoing numbering.
	w.seqOff--
	w.lastIn = h.seq
	w.skipped, w.lastSkip = true, h.seq
}
