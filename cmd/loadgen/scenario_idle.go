package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// runIdle opens -conns connections (joined to rooms of -per-room), lets
// them settle for -warmup, reads the hub's RSS, holds them for -duration
// and reports what was held and what it cost.
func runIdle(ctx context.Context, e *env) (*Result, error) {
	cfg := e.cfg
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.setupTimeout)
	defer cancelSetup()
	if cfg.hubPID > 0 && len(cfg.hubs) > 1 {
		e.log.Warn("-hub-pid reads one process; the other hubs' connections are not in it", "hubs", len(cfg.hubs))
	}

	nRooms := 0
	if cfg.perRoom > 0 {
		nRooms = (cfg.conns + cfg.perRoom - 1) / cfg.perRoom
	}
	var roomIDs []string
	if nRooms > 0 {
		owner, err := e.owner(setupCtx)
		if err != nil {
			return nil, fmt.Errorf("set-up: %w", err)
		}
		if roomIDs, err = e.createRooms(setupCtx, owner, nRooms); err != nil {
			return nil, fmt.Errorf("set-up: %w", err)
		}
	}
	tokens, err := e.guestTokens(setupCtx, cfg.conns)
	if err != nil {
		return nil, fmt.Errorf("set-up: %w", err)
	}
	joinTo := make([]string, cfg.conns)
	for i := range joinTo {
		if nRooms > 0 {
			joinTo[i] = roomIDs[i/cfg.perRoom]
		}
	}

	idle := &IdleResult{Target: cfg.conns, HubPID: cfg.hubPID}
	hubRSS := func(what string) (int64, error) {
		if cfg.hubPID == 0 {
			return 0, nil
		}
		k, err := readRSSKiB(cfg.hubPID)
		if err != nil {
			return 0, fmt.Errorf("hub RSS %s: %w", what, err)
		}
		e.log.Info("hub RSS "+what, "pid", cfg.hubPID, "kib", k)
		return k, nil
	}
	selfBefore, _ := readRSSKiB(0)
	if idle.HubRSSBeforeKiB, err = hubRSS("before connecting"); err != nil {
		return nil, err
	}
	clients, err := e.connect(setupCtx, tokens, joinTo, nil)
	if err != nil {
		return nil, fmt.Errorf("set-up: %w", err)
	}
	cancelSetup()

	e.log.Info("settling", "for", cfg.warmup)
	sleep(ctx, cfg.warmup)
	if idle.HubRSSAfterKiB, err = hubRSS("after settling"); err != nil {
		e.closeAll(clients)
		return nil, err
	}
	selfAfter, _ := readRSSKiB(0)

	e.log.Info("holding", "conns", cfg.conns, "for", cfg.duration)
	end := time.Now().Add(cfg.duration)
	for ctx.Err() == nil && time.Now().Before(end) {
		sleep(ctx, min(5*time.Second, time.Until(end)))
		e.log.Info("holding", "held", int64(cfg.conns)-e.drops.total.Load(), "left", time.Until(end).Round(time.Second))
	}
	idle.HubRSSEndKiB, _ = hubRSS("at the end")
	idle.Held = int64(cfg.conns) - e.drops.total.Load()
	e.closeAll(clients)
	if ctx.Err() != nil {
		return nil, errors.New("interrupted")
	}

	if cfg.hubPID > 0 {
		idle.KiBPerConn = float64(idle.HubRSSAfterKiB-idle.HubRSSBeforeKiB) / float64(cfg.conns)
	}
	idle.LoadgenKiBConn = float64(selfAfter-selfBefore) / float64(cfg.conns)
	return &Result{
		Scenario: cfg.scenario, Hubs: cfg.hubs, Clients: cfg.conns, Rooms: nRooms,
		WarmupSeconds: cfg.warmup.Seconds(), DurationSeconds: cfg.duration.Seconds(),
		Idle:        idle,
		PerHub:      e.perHub(clients),
		Disconnects: e.drops.total.Load(), DisconnectsByCode: e.drops.snapshot(),
		LoadgenRSSKiB: selfAfter,
	}, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
