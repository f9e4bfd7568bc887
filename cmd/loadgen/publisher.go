package main

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sendStats counts sends and their replies, split by whether the message
// was sent inside the measured window.
type sendStats struct {
	win *window
	ack Histogram // send → ok reply of window messages, µs

	sent, acked, failed             atomic.Int64 // window
	warmSent, warmAcked, warmFailed atomic.Int64 // before the window

	mu     sync.Mutex       // guards byCode
	byCode map[string]int64 // window failures by error code
}

func newSendStats(w *window) *sendStats {
	return &sendStats{win: w, byCode: make(map[string]int64)}
}

func (s *sendStats) begin(inWin bool) {
	if inWin {
		s.sent.Add(1)
	} else {
		s.warmSent.Add(1)
	}
}

// finish records a reply (or failure) and reports whether it was an ack.
func (s *sendStats) finish(inWin bool, r reply, err error, rtt time.Duration) bool {
	ok := err == nil && r.OK
	switch {
	case ok && inWin:
		s.acked.Add(1)
		s.ack.Record(uint64(rtt / time.Microsecond))
	case ok:
		s.warmAcked.Add(1)
	case inWin:
		s.failed.Add(1)
		code := failureCode(r, err)
		s.mu.Lock()
		s.byCode[code]++
		s.mu.Unlock()
	default:
		s.warmFailed.Add(1)
	}
	return ok
}

// pending is the number of sends still waiting for a reply.
func (s *sendStats) pending() int64 {
	return s.sent.Load() - s.acked.Load() - s.failed.Load() +
		s.warmSent.Load() - s.warmAcked.Load() - s.warmFailed.Load()
}

// roomRun is one room under load.
type roomRun struct {
	id        string
	receivers int          // connections measuring in it
	acked     atomic.Int64 // window messages acknowledged
}

// publisher sends at a steady rate into one room, each message from the
// next connection of its pool, so no user exceeds maxUserRate.
type publisher struct {
	name     string // "<publisher>" of the message text
	runID    string
	room     *roomRun
	pool     []*client
	interval time.Duration
}

// run publishes until ctx ends. A time.Ticker drops ticks it cannot
// deliver, so a stall is followed by the normal rate, not a burst.
func (p *publisher) run(ctx context.Context, st *sendStats) {
	phase := time.NewTimer(rand.N(p.interval)) // spread publishers over the interval
	select {
	case <-ctx.Done():
		phase.Stop()
		return
	case <-phase.C:
	}
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for n := int64(0); ; n++ {
		if ctx.Err() != nil {
			return
		}
		p.publish(ctx, n, st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publish sends message n without waiting for its reply.
func (p *publisher) publish(ctx context.Context, n int64, st *sendStats) {
	c := p.pool[n%int64(len(p.pool))]
	start := time.Now()
	ts := start.UnixNano()
	inWin := st.win.contains(ts)
	st.begin(inWin)
	text := formatProbe(ts, p.name, n)
	cmid := p.runID + "-" + p.name + "-" + strconv.FormatInt(n, 10)
	room := p.room
	// The write must not inherit ctx: cancelling a write closes the
	// connection. writeTimeout bounds it instead.
	c.do(context.WithoutCancel(ctx), func(id int64) any {
		return sendCommand{command: command{ID: id, Type: "send", Room: room.id}, Text: text, ClientMsgID: cmid}
	}, func(r reply, err error) {
		if st.finish(inWin, r, err, time.Since(start)) && inWin {
			room.acked.Add(1)
		}
	})
}
