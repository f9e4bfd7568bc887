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

// seqTracker checks that the seqs one connection sees in one room rise by
// exactly one. It is owned by that connection's read goroutine.
type seqTracker struct {
	last int64 // highest seq seen (or the room's last_seq at join)
	gaps int64 // seqs skipped over
	dups int64 // seqs seen again, or arriving after a higher one
}

// observe records seq and reports whether it is new (greater than every seq
// seen so far). A jump counts the skipped seqs as gaps; a seq at or below
// the highest seen counts as a duplicate.
func (t *seqTracker) observe(seq int64) (fresh bool) {
	switch {
	case seq == t.last+1:
	case seq > t.last+1:
		t.gaps += seq - t.last - 1
	default:
		t.dups++
		return false
	}
	t.last = seq
	return true
}
