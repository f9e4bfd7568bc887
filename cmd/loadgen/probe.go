package main

import (
	"strconv"
	"strings"
)

// probePrefix starts every message text loadgen sends.
const probePrefix = "lg "

// formatProbe is the text of message n of publisher pub, sent at sentNanos
// (Unix nanoseconds): "lg <unix-nanos> <publisher>/<n>".
func formatProbe(sentNanos int64, pub string, n int64) string {
	b := make([]byte, 0, 48)
	b = append(b, probePrefix...)
	b = strconv.AppendInt(b, sentNanos, 10)
	b = append(b, ' ')
	b = append(b, pub...)
	b = append(b, '/')
	b = strconv.AppendInt(b, n, 10)
	return string(b)
}

// parseProbe reads the send time back out of a text made by formatProbe.
// ok is false for any other text.
func parseProbe(text string) (sentNanos int64, pub string, n int64, ok bool) {
	rest, found := strings.CutPrefix(text, probePrefix)
	if !found {
		return 0, "", 0, false
	}
	ts, tail, found := strings.Cut(rest, " ")
	if !found {
		return 0, "", 0, false
	}
	sentNanos, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sentNanos <= 0 {
		return 0, "", 0, false
	}
	i := strings.LastIndexByte(tail, '/')
	if i <= 0 {
		return 0, "", 0, false
	}
	n, err = strconv.ParseInt(tail[i+1:], 10, 64)
	if err != nil || n < 0 {
		return 0, "", 0, false
	}
	return sentNanos, tail[:i], n, true
}

// maxHoles bounds the skipped seqs one seqTracker remembers, so a receiver
// that misses a long run cannot grow without bound. A skipped seq it no
// longer remembers that arrives late is counted as a duplicate.
const maxHoles = 4096

// seqTracker checks that the seqs one connection sees in one room rise by
// exactly one. It is owned by that connection's read goroutine.
type seqTracker struct {
	last  int64              // highest seq seen (or the room's last_seq at join)
	gaps  int64              // seqs skipped over and not seen since
	late  int64              // skipped seqs that arrived after a higher one: out of order
	dups  int64              // seqs seen again
	holes map[int64]struct{} // skipped seqs not seen yet (at most maxHoles); nil until the first gap
}

// observe records seq and reports whether it is new (not seen before). A
// jump counts the skipped seqs as gaps; a skipped seq arriving later is new
// but out of order (it leaves the gaps and counts as late); any other seq
// at or below the highest seen is a duplicate.
func (t *seqTracker) observe(seq int64) (fresh bool) {
	switch {
	case seq == t.last+1:
	case seq > t.last+1:
		t.gaps += seq - t.last - 1
		for s := t.last + 1; s < seq && len(t.holes) < maxHoles; s++ {
			if t.holes == nil {
				t.holes = make(map[int64]struct{})
			}
			t.holes[s] = struct{}{}
		}
	default:
		if _, ok := t.holes[seq]; ok {
			delete(t.holes, seq)
			t.gaps--
			t.late++
			return true
		}
		t.dups++
		return false
	}
	t.last = seq
	return true
}
