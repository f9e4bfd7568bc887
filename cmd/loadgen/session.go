package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// env is what every scenario shares: configuration, logger, HTTP clients,
// the run's id and the tally of connections the hub dropped.
type env struct {
	cfg   config
	log   *slog.Logger
	api   *api
	ws    *http.Client // WebSocket handshakes
	runID string       // random hex naming this run's users, rooms and client_msg_ids
	drops dropStats
}

func newEnv(cfg config, log *slog.Logger) *env {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	apiTransport := &http.Transport{
		Proxy:               nil, // talk only to the given hubs, never through a proxy
		DialContext:         dialer.DialContext,
		MaxIdleConns:        cfg.connectConcurrency * 2,
		MaxIdleConnsPerHost: cfg.connectConcurrency,
		IdleConnTimeout:     30 * time.Second,
	}
	wsTransport := &http.Transport{
		Proxy:             nil,
		DialContext:       dialer.DialContext,
		DisableKeepAlives: true, // every handshake connection is taken over
		ForceAttemptHTTP2: false,
	}
	return &env{
		cfg:   cfg,
		log:   log,
		api:   &api{http: &http.Client{Transport: apiTransport, Timeout: 30 * time.Second}, log: log},
		ws:    &http.Client{Transport: wsTransport},
		runID: randomHex(4),
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hub is the base URL for client i.
func (e *env) hub(i int) string { return e.cfg.hubs[hubFor(i, len(e.cfg.hubs))] }

// hubFor is the index of client i's hub among n: round robin by client
// index. The plans number each room's members consecutively, so a room's
// members are spread over the hubs too (at most one apart), and so are its
// publishers.
func hubFor(i, n int) int { return i % n }

// perHub counts the open clients of each hub, in -hubs order, with the
// connections each hub dropped.
func (e *env) perHub(clients []*client) []HubCount {
	out := make([]HubCount, len(e.cfg.hubs))
	at := make(map[string]int, len(out))
	for i, h := range e.cfg.hubs {
		out[i].URL = h
		at[h] = i
	}
	for _, c := range clients {
		if c != nil {
			out[at[c.hub]].Clients++
		}
	}
	drops := e.drops.snapshotHubs()
	for i := range out {
		out[i].Dropped = drops[out[i].URL]
	}
	return out
}

// dropStats counts connections the hub ended before loadgen closed them.
type dropStats struct {
	total  atomic.Int64
	mu     sync.Mutex       // guards byCode, byHub
	byCode map[string]int64 // close status → count
	byHub  map[string]int64 // hub base URL → count
}

func (d *dropStats) add(c *client, err error, log *slog.Logger) {
	n := d.total.Add(1)
	code := dropCode(err)
	d.mu.Lock()
	if d.byCode == nil {
		d.byCode = make(map[string]int64)
		d.byHub = make(map[string]int64)
	}
	d.byCode[code]++
	d.byHub[c.hub]++
	d.mu.Unlock()
	if n <= 5 {
		log.Warn("hub ended a connection", "client", c.idx, "hub", c.hub, "close", code, "err", err)
	}
}

func (d *dropStats) snapshotHubs() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int64, len(d.byHub))
	for k, v := range d.byHub {
		out[k] = v
	}
	return out
}

func (d *dropStats) snapshot() map[string]int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int64, len(d.byCode))
	for k, v := range d.byCode {
		out[k] = v
	}
	return out
}

// forEach runs fn(ctx, i) for i in [0, n) with at most conc at once. It
// stops starting new calls after the first error and returns it, with the
// number of calls that failed.
func forEach(ctx context.Context, n, conc int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex // guards first, failed
		first  error
		failed int
	)
	sem := make(chan struct{}, conc)
loop:
	for i := 0; i < n; i++ {
		select {
		case <-ctx.Done():
			break loop
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				failed++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("%w (%d failed)", first, failed)
	}
	return ctx.Err()
}

// progress logs "done of n" at most every 2 s.
type progress struct {
	what  string
	n     int
	done  atomic.Int64
	last  atomic.Int64 // UnixNano of the last log line
	start time.Time
	log   *slog.Logger
}

func newProgress(log *slog.Logger, what string, n int) *progress {
	p := &progress{what: what, n: n, start: time.Now(), log: log}
	p.last.Store(p.start.UnixNano())
	return p
}

func (p *progress) tick() {
	d := p.done.Add(1)
	now := time.Now().UnixNano()
	last := p.last.Load()
	if now-last > int64(2*time.Second) && p.last.CompareAndSwap(last, now) {
		p.log.Info(p.what, "done", d, "of", p.n)
	}
}

func (p *progress) finish() {
	p.log.Info(p.what+" finished", "n", p.n, "took", time.Since(p.start).Round(time.Millisecond))
}

// owner registers the user who creates the rooms and returns its token.
func (e *env) owner(ctx context.Context) (string, error) {
	name := "lg_" + e.runID + randomHex(4)
	token, err := e.api.register(ctx, e.cfg.hubs[0], name, randomHex(12))
	if err != nil {
		return "", err
	}
	e.log.Info("registered room owner", "username", name, "hub", e.cfg.hubs[0])
	return token, nil
}

// createRooms creates n public rooms on the first hub and returns their ids.
func (e *env) createRooms(ctx context.Context, token string, n int) ([]string, error) {
	ids := make([]string, n)
	p := newProgress(e.log, "creating rooms", n)
	err := forEach(ctx, n, e.cfg.connectConcurrency, func(ctx context.Context, i int) error {
		id, err := e.api.createRoom(ctx, e.cfg.hubs[0], token, fmt.Sprintf("lg-%s-%d", e.runID, i))
		ids[i] = id
		p.tick()
		return err
	})
	if err != nil {
		return nil, err
	}
	p.finish()
	return ids, nil
}

// guestTokens gets a guest token for each of n clients, from client i's hub.
func (e *env) guestTokens(ctx context.Context, n int) ([]string, error) {
	tokens := make([]string, n)
	p := newProgress(e.log, "guest tokens", n)
	err := forEach(ctx, n, e.cfg.connectConcurrency, func(ctx context.Context, i int) error {
		t, err := e.api.guest(ctx, e.hub(i), fmt.Sprintf("lg-%s-%d", e.runID, i))
		tokens[i] = t
		p.tick()
		return err
	})
	if err != nil {
		return nil, err
	}
	p.finish()
	return tokens, nil
}

// connect dials one connection per token and joins it to rooms[i] unless
// that is "". rcvs[i] (may be nil or short) is client i's receiver.
func (e *env) connect(ctx context.Context, tokens, rooms []string, rcvs []*receiver) ([]*client, error) {
	clients := make([]*client, len(tokens))
	p := newProgress(e.log, "connecting", len(tokens))
	onDrop := func(c *client, err error) { e.drops.add(c, err, e.log) }
	err := forEach(ctx, len(tokens), e.cfg.connectConcurrency, func(ctx context.Context, i int) error {
		var rcv *receiver
		if i < len(rcvs) {
			rcv = rcvs[i]
		}
		c, err := dial(ctx, e.ws, i, e.hub(i), tokens[i], rcv, onDrop)
		if err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		clients[i] = c
		if rooms[i] != "" {
			if err := c.join(ctx, rooms[i]); err != nil {
				return fmt.Errorf("client %d on %s: %w", i, c.hub, err)
			}
		}
		p.tick()
		return nil
	})
	if err != nil {
		e.closeAll(clients)
		return nil, err
	}
	p.finish()
	return clients, nil
}

// closeTimeout bounds the close handshakes; connections not yet closed by
// then are dropped without one.
const closeTimeout = 15 * time.Second

// closeAll closes every non-nil client with status 1000.
func (e *env) closeAll(clients []*client) {
	start := time.Now()
	deadline := start.Add(closeTimeout)
	_ = forEach(context.Background(), len(clients), max(e.cfg.connectConcurrency, 200), func(_ context.Context, i int) error {
		if c := clients[i]; c != nil {
			c.close(time.Now().Before(deadline))
		}
		return nil
	})
	e.log.Info("closed connections", "n", len(clients), "took", time.Since(start).Round(time.Millisecond))
}

// sortedKeys is m's keys in order, for stable output.
func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
