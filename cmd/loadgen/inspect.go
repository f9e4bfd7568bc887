package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Paths of the admin room endpoints (PROTOCOL §2 Ops).
const (
	inspectDetailPath = "/api/admin/rooms/{id}"
	inspectListPath   = "/api/admin/rooms"
)

// Inspection answers that are not a status code.
const (
	inspectTransport = "transport" // no HTTP answer: refused, reset, timed out
	inspectBadBody   = "bad_body"  // 200 whose body is not the documented shape
)

const (
	// inspectTimeout bounds one inspection request.
	inspectTimeout = 10 * time.Second
	// inspectErrorPause is how long a worker waits after a failed request,
	// so that an endpoint answering errors at once (a 404 while it is not
	// deployed, a 429) is not turned into a busy loop that starves the hubs.
	inspectErrorPause = 100 * time.Millisecond
	// inspectBodyLimit bounds a body read; the list of every room with
	// someone online is the largest answer.
	inspectBodyLimit = 64 << 20
)

// inspector keeps -inspect-concurrency workers issuing admin room
// inspection requests to one hub, each with one request in flight, and
// counts those started inside the measured window.
type inspector struct {
	http      *http.Client
	log       *slog.Logger
	base      string
	token     string
	rooms     []string // ids of the scenario's rooms
	workers   int
	listEvery int
	win       *window

	detail, list endpointStats
	logged       atomic.Int64 // failures logged so far (the first few only)
	inFlight     sync.WaitGroup
}

// endpointStats counts one endpoint's requests of the measured window.
type endpointStats struct {
	requests atomic.Int64
	ok       atomic.Int64
	lat      Histogram // µs, of ok answers

	mu     sync.Mutex       // guards errors
	errors map[string]int64 // failure → count: HTTP status, inspectTransport, inspectBadBody
}

func (s *endpointStats) fail(what string) {
	s.mu.Lock()
	if s.errors == nil {
		s.errors = make(map[string]int64)
	}
	s.errors[what]++
	s.mu.Unlock()
}

func (s *endpointStats) result(path string, d time.Duration) *EndpointResult {
	s.mu.Lock()
	errs := make(map[string]int64, len(s.errors))
	for k, v := range s.errors {
		errs[k] = v
	}
	s.mu.Unlock()
	r := &EndpointResult{Path: path, Requests: s.requests.Load(), OK: s.ok.Load(), Errors: errs}
	r.OKPerSec = float64(r.OK) / d.Seconds()
	if s.lat.Count() > 0 {
		r.Latency = latencyOf(&s.lat)
	}
	return r
}

// newInspector signs in as the admin on cfg.inspectHub; it fails if the
// account cannot sign in or is not an admin, before any load starts.
func newInspector(ctx context.Context, e *env, rooms []string, win *window) (*inspector, error) {
	cfg := e.cfg
	token, role, err := e.api.login(ctx, cfg.inspectHub, cfg.admin.name, cfg.admin.password)
	if err != nil {
		return nil, fmt.Errorf("-admin: %w", err)
	}
	if role != "admin" {
		return nil, fmt.Errorf("-admin: %s signed in on %s with role %q, not admin", cfg.admin.name, cfg.inspectHub, role)
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               nil, // only the given hub, never through a proxy
		DialContext:         dialer.DialContext,
		MaxIdleConns:        cfg.inspectConc,
		MaxIdleConnsPerHost: cfg.inspectConc, // one kept-alive connection per worker
		IdleConnTimeout:     30 * time.Second,
	}
	e.log.Info("inspection signed in", "hub", cfg.inspectHub, "admin", cfg.admin.name, "workers", cfg.inspectConc)
	return &inspector{
		http: &http.Client{Transport: tr, Timeout: inspectTimeout}, log: e.log,
		base: cfg.inspectHub, token: token, rooms: rooms,
		workers: cfg.inspectConc, listEvery: cfg.inspectListEvery, win: win,
	}, nil
}

// inspectTarget is request k of worker w: the list when every listEvery-th
// request lists (listEvery > 0), else one room. The workers walk the rooms
// interleaved (worker w takes rooms w, w+workers, …), so together they
// cover every room in turn.
func inspectTarget(w, k, workers, listEvery, rooms int) (list bool, room int) {
	if listEvery > 0 && (k+1)%listEvery == 0 {
		return true, -1
	}
	if listEvery > 0 {
		k -= (k + 1) / listEvery // count only the room requests
	}
	return false, (w + k*workers) % rooms
}

// start runs the workers until end (no request starts after it) or until
// ctx ends (an interrupt: requests in flight are abandoned); wait waits for
// them. A request in flight at end runs to its answer, so the last ones of
// the window are counted like the others.
func (in *inspector) start(ctx context.Context, end time.Time) {
	for w := range in.workers {
		in.inFlight.Add(1)
		go func() {
			defer in.inFlight.Done()
			in.work(ctx, w, end)
		}()
	}
}

func (in *inspector) wait() {
	in.inFlight.Wait()
	in.http.CloseIdleConnections()
}

func (in *inspector) work(ctx context.Context, w int, end time.Time) {
	for k := 0; ctx.Err() == nil && time.Now().Before(end); k++ {
		list, room := inspectTarget(w, k, in.workers, in.listEvery, len(in.rooms))
		if !in.request(ctx, list, room) {
			sleep(ctx, inspectErrorPause)
		}
	}
}

// request makes one request and counts it if it started inside the
// measured window. It reports whether the answer was a good 200.
func (in *inspector) request(ctx context.Context, list bool, room int) bool {
	st, path, want := &in.list, inspectListPath, ""
	if !list {
		want = in.rooms[room]
		st, path = &in.detail, "/api/admin/rooms/"+url.PathEscape(want)
	}
	start := time.Now()
	counted := in.win.contains(start.UnixNano())
	fail := func(what string, err error) bool {
		if ctx.Err() != nil {
			return false // interrupted: not an answer
		}
		if counted {
			st.requests.Add(1)
			st.fail(what)
		}
		if in.logged.Add(1) <= 3 {
			in.log.Warn("inspection request failed", "url", in.base+path, "answer", what, "err", err)
		}
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.base+path, nil)
	if err != nil {
		return fail(inspectTransport, err)
	}
	req.Header.Set("Authorization", "Bearer "+in.token)
	resp, err := in.http.Do(req)
	if err != nil {
		return fail(inspectTransport, err)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, inspectBodyLimit))
	_ = resp.Body.Close()
	if err != nil {
		return fail(inspectTransport, err)
	}
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		return fail(strconv.Itoa(resp.StatusCode), fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(raw, 200)))
	}
	if err := checkInspectBody(raw, list, want); err != nil {
		return fail(inspectBadBody, err)
	}
	if counted {
		st.requests.Add(1)
		st.ok.Add(1)
		st.lat.Record(uint64(took / time.Microsecond))
	}
	return true
}

// checkInspectBody checks the part of an answer loadgen relies on: the
// list has a "rooms" array; one room's detail names that room.
func checkInspectBody(raw []byte, list bool, room string) error {
	if list {
		var body struct {
			Rooms []json.RawMessage `json:"rooms"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return fmt.Errorf("list: %w", err)
		}
		if body.Rooms == nil {
			return errors.New(`list: no "rooms" array`)
		}
		return nil
	}
	var body struct {
		Room *struct {
			ID string `json:"id"`
		} `json:"room"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return fmt.Errorf("room %s: %w", room, err)
	}
	if body.Room == nil || body.Room.ID != room {
		return fmt.Errorf("room %s: answer %q is not about it", room, truncate(raw, 200))
	}
	return nil
}

// result is the inspection part of the report, for a window of d.
func (in *inspector) result(d time.Duration) *InspectResult {
	r := &InspectResult{Hub: in.base, Workers: in.workers, ListEvery: in.listEvery,
		Detail: in.detail.result(inspectDetailPath, d)}
	if in.listEvery > 0 {
		r.List = in.list.result(inspectListPath, d)
	}
	return r
}
