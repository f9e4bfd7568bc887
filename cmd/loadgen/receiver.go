package main

import (
	"sync/atomic"
	"time"
)

// window is the measured interval in Unix nanoseconds, [start, end). It is
// set once, before the first message is sent.
type window struct {
	start, end atomic.Int64
}

func (w *window) set(start, end time.Time) {
	w.end.Store(end.UnixNano())
	w.start.Store(start.UnixNano())
}

// contains reports whether a message sent at ns falls in the window.
func (w *window) contains(ns int64) bool {
	s := w.start.Load()
	return s != 0 && ns >= s && ns < w.end.Load()
}

// receiver measures the message events one connection gets in its room.
// Everything but delivered is owned by the connection's read goroutine; read
// it only after that goroutine has exited.
type receiver struct {
	win  *window
	hist *Histogram // latencies in µs, shared by several receivers

	room    string
	seq     seqTracker
	foreign int64 // events of another room, or texts loadgen did not write

	delivered atomic.Int64 // first sightings of messages sent in the window
}

// joined sets the room and its seq baseline from the join reply.
func (r *receiver) joined(room string, lastSeq int64) {
	r.room = room
	r.seq = seqTracker{last: lastSeq}
}

// onMessage handles one message event that arrived at at.
func (r *receiver) onMessage(room string, seq int64, text string, at time.Time) {
	if room != r.room {
		r.foreign++
		return
	}
	fresh := r.seq.observe(seq)
	sent, _, _, ok := parseProbe(text)
	if !ok {
		r.foreign++
		return
	}
	if !fresh || !r.win.contains(sent) {
		return
	}
	r.delivered.Add(1)
	lat := at.UnixNano() - sent
	if lat < 0 {
		lat = 0
	}
	r.hist.Record(uint64(lat / int64(time.Microsecond)))
}
