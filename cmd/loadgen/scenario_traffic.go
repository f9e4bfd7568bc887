package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// trafficPlan is a fanout or rooms run: which connections to open, where
// each one listens and who publishes.
type trafficPlan struct {
	rooms int
	joins []int // per connection: index of the room it joins and measures in, or -1 (sends only)
	pubs  []pubPlan
}

// pubPlan is one logical publisher.
type pubPlan struct {
	room int
	name string
	pool []int // connections it rotates over (distinct users)
	rate float64
}

// runTraffic sets up plan, runs warmup and the measured window, drains and
// reports.
func runTraffic(ctx context.Context, e *env, plan trafficPlan) (*Result, error) {
	cfg := e.cfg
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.setupTimeout)
	defer cancelSetup()

	owner, err := e.owner(setupCtx)
	if err != nil {
		return nil, fmt.Errorf("set-up: %w", err)
	}
	roomIDs, err := e.createRooms(setupCtx, owner, plan.rooms)
	if err != nil {
		return nil, fmt.Errorf("set-up: %w", err)
	}
	win := &window{}
	var insp *inspector
	if cfg.inspectHub != "" { // before the many guest tokens: a bad -admin fails at once
		if insp, err = newInspector(setupCtx, e, roomIDs, win); err != nil {
			return nil, fmt.Errorf("set-up: %w", err)
		}
	}
	n := len(plan.joins)
	tokens, err := e.guestTokens(setupCtx, n)
	if err != nil {
		return nil, fmt.Errorf("set-up: %w", err)
	}

	shards := make([]Histogram, max(2, runtime.GOMAXPROCS(0))) // spread atomic contention
	rooms := make([]*roomRun, plan.rooms)
	for i, id := range roomIDs {
		rooms[i] = &roomRun{id: id}
	}
	rcvs := make([]*receiver, n)
	joinTo := make([]string, n)
	for i, r := range plan.joins {
		if r >= 0 {
			rcvs[i] = &receiver{win: win, hist: &shards[i%len(shards)]}
			joinTo[i] = roomIDs[r]
			rooms[r].receivers++
		}
	}
	clients, err := e.connect(setupCtx, tokens, joinTo, rcvs)
	if err != nil {
		return nil, fmt.Errorf("set-up: %w", err)
	}
	cancelSetup()

	st := newSendStats(win)
	pubs := make([]*publisher, len(plan.pubs))
	senders := make(map[int]bool)
	for i, pp := range plan.pubs {
		pool := make([]*client, len(pp.pool))
		for k, ci := range pp.pool {
			pool[k] = clients[ci]
			senders[ci] = true
		}
		pubs[i] = &publisher{
			name: pp.name, runID: e.runID, room: rooms[pp.room], pool: pool,
			interval: time.Duration(float64(time.Second) / pp.rate),
		}
	}
	delivered := func() int64 {
		var d int64
		for _, r := range rcvs {
			if r != nil {
				d += r.delivered.Load()
			}
		}
		return d
	}
	expected := func() int64 {
		var x int64
		for _, r := range rooms {
			x += r.acked.Load() * int64(r.receivers)
		}
		return x
	}

	start := time.Now().Add(cfg.warmup)
	end := start.Add(cfg.duration)
	win.set(start, end)
	e.log.Info("publishing", "publishers", len(pubs), "sending_conns", len(senders),
		"warmup", cfg.warmup, "duration", cfg.duration)
	pubCtx, stopPubs := context.WithDeadline(ctx, end)
	if insp != nil {
		// Inspection runs through the warm-up too, so the window measures
		// it in a steady state; only requests started in the window count.
		insp.start(ctx, end)
	}
	var wg sync.WaitGroup
	for _, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(pubCtx, st)
		}()
	}
	tick := time.NewTicker(5 * time.Second)
	for pubCtx.Err() == nil {
		select {
		case <-pubCtx.Done():
		case now := <-tick.C:
			phase := "warmup"
			if now.After(start) {
				phase = "measuring"
			}
			e.log.Info(phase, "sent", st.sent.Load()+st.warmSent.Load(), "acked", st.acked.Load()+st.warmAcked.Load(),
				"failed", st.failed.Load()+st.warmFailed.Load(), "delivered", delivered(), "dropped", e.drops.total.Load())
		}
	}
	tick.Stop()
	wg.Wait()
	stopPubs()
	if insp != nil {
		insp.wait() // the last requests of the window run to their answers
	}

	// Drain: replies and events still in flight.
	drainEnd := time.Now().Add(cfg.drain)
	for ctx.Err() == nil && time.Now().Before(drainEnd) && (st.pending() > 0 || delivered() < expected()) {
		time.Sleep(50 * time.Millisecond)
	}
	e.log.Info("drained", "pending_replies", st.pending(), "delivered", delivered(), "expected", expected())
	rss, _ := readRSSKiB(0)
	e.closeAll(clients) // fails pending sends as no_reply; read loops exit
	if ctx.Err() != nil {
		return nil, errors.New("interrupted")
	}

	res := &Result{
		Scenario: cfg.scenario, Hubs: cfg.hubs, Clients: n, Rooms: plan.rooms,
		PublisherConns: len(senders), RatePerRoom: cfg.rate,
		WarmupSeconds: cfg.warmup.Seconds(), DurationSeconds: cfg.duration.Seconds(),
		Disconnects: e.drops.total.Load(), DisconnectsByCode: e.drops.snapshot(),
		LoadgenRSSKiB: rss, PerHub: e.perHub(clients),
	}
	if insp != nil {
		res.Inspect = insp.result(cfg.duration)
	}
	st.mu.Lock()
	res.Messages = &MessageCounts{
		Sent: st.sent.Load(), Acked: st.acked.Load(), Failed: st.failed.Load(),
		TargetPerSec: cfg.rate * float64(plan.rooms),
		SentPerSec:   float64(st.sent.Load()) / cfg.duration.Seconds(),
		RateLimited:  st.byCode["rate_limited"], FailedByCode: st.byCode,
		WarmupSent: st.warmSent.Load(), WarmupFailed: st.warmFailed.Load(),
	}
	st.mu.Unlock()
	if m := res.Messages; m.SentPerSec < 0.95*m.TargetPerSec {
		e.log.Warn("publishers fell behind the target rate (late ticks are dropped, not bursted): the loadgen host is saturated",
			"sent_per_s", m.SentPerSec, "target_per_s", m.TargetPerSec)
	}
	ev := &EventCounts{Expected: expected()}
	var lat Histogram
	for i := range shards {
		lat.Merge(&shards[i])
	}
	for _, r := range rcvs {
		if r == nil {
			continue
		}
		res.Receivers++
		ev.Delivered += r.delivered.Load()
		ev.Gaps += r.seq.gaps
		ev.OutOfOrder += r.seq.late
		ev.Duplicated += r.seq.dups
		ev.Foreign += r.foreign
	}
	ev.Lost = max(0, ev.Expected-ev.Delivered)
	ev.Extra = max(0, ev.Delivered-ev.Expected)
	ev.PerSecond = float64(ev.Delivered) / cfg.duration.Seconds()
	res.Events = ev
	res.Latency = latencyOf(&lat)
	res.AckTime = latencyOf(&st.ack)
	return res, nil
}

// fanoutPlan: -receivers in one room; -publishers, each with its own pool
// of send-only connections.
func fanoutPlan(cfg config) trafficPlan {
	plan := trafficPlan{rooms: 1}
	for range cfg.receivers {
		plan.joins = append(plan.joins, 0)
	}
	perPub := cfg.rate / float64(cfg.publishers)
	for j := range cfg.publishers {
		pp := pubPlan{room: 0, name: fmt.Sprintf("p%d", j), rate: perPub}
		for range poolSize(perPub) {
			pp.pool = append(pp.pool, len(plan.joins))
			plan.joins = append(plan.joins, -1)
		}
		plan.pubs = append(plan.pubs, pp)
	}
	return plan
}

// roomsPlan: -rooms of -per-room members; in each, -publishers publishers
// rotate over disjoint sets of its members.
func roomsPlan(cfg config) trafficPlan {
	plan := trafficPlan{rooms: cfg.rooms}
	perPub := cfg.rate / float64(cfg.publishers)
	size := poolSize(perPub) // config.check made sure publishers×size ≤ per-room
	for r := range cfg.rooms {
		first := len(plan.joins)
		for range cfg.perRoom {
			plan.joins = append(plan.joins, r)
		}
		for j := range cfg.publishers {
			pp := pubPlan{room: r, name: fmt.Sprintf("r%dp%d", r, j), rate: perPub}
			for k := range size {
				pp.pool = append(pp.pool, first+j*size+k)
			}
			plan.pubs = append(plan.pubs, pp)
		}
	}
	return plan
}
