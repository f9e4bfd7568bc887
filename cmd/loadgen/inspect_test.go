package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestInspectTarget(t *testing.T) {
	type req struct {
		list bool
		room int
	}
	r := func(room int) req { return req{room: room} }
	l := req{list: true, room: -1}
	tests := []struct {
		name                      string
		w, workers, every, nRooms int
		want                      []req // requests k = 0, 1, 2, …
	}{
		{"one worker walks every room", 0, 1, 0, 3, []req{r(0), r(1), r(2), r(0)}},
		{"worker 1 of 2 takes the odd rooms", 1, 2, 0, 4, []req{r(1), r(3), r(1)}},
		{"worker 2 of 3 over 4 rooms", 2, 3, 0, 4, []req{r(2), r(1), r(0), r(3)}},
		{"every 3rd lists, rooms walk on", 0, 1, 3, 5, []req{r(0), r(1), l, r(2), r(3), l, r(4)}},
		{"every request lists", 0, 2, 1, 5, []req{l, l, l}},
		{"one room", 3, 4, 0, 1, []req{r(0), r(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, want := range tt.want {
				list, room := inspectTarget(tt.w, k, tt.workers, tt.every, tt.nRooms)
				if got := (req{list, room}); got != want {
					t.Errorf("request %d: got %+v, want %+v", k, got, want)
				}
			}
		})
	}
	// Together the workers cover every room within rooms/workers rounds.
	const workers, nRooms = 3, 10
	seen := map[int]bool{}
	for k := range (nRooms + workers - 1) / workers {
		for w := range workers {
			_, room := inspectTarget(w, k, workers, 0, nRooms)
			seen[room] = true
		}
	}
	if len(seen) != nRooms {
		t.Errorf("%d workers covered %d of %d rooms in one pass", workers, len(seen), nRooms)
	}
}

func TestCheckInspectBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		list bool
		room string
		ok   bool
	}{
		{"detail", `{"room":{"id":"r1","last_seq":3},"online":[]}`, false, "r1", true},
		{"detail of another room", `{"room":{"id":"r2"}}`, false, "r1", false},
		{"detail without room", `{"online":[]}`, false, "r1", false},
		{"detail not JSON", `<html>`, false, "r1", false},
		{"list", `{"rooms":[{"room":{"id":"r1"}}]}`, true, "", true},
		{"empty list", `{"rooms":[]}`, true, "", true},
		{"list without rooms", `{}`, true, "", false},
		{"list of null", `{"rooms":null}`, true, "", false},
		{"list not JSON", `rooms`, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkInspectBody([]byte(tt.body), tt.list, tt.room)
			if (err == nil) != tt.ok {
				t.Errorf("checkInspectBody(%s) = %v, want ok=%v", tt.body, err, tt.ok)
			}
		})
	}
}

// twoFakeHubs serves one fakeHub on two addresses: two hubs of one service.
func twoFakeHubs(t *testing.T, h *fakeHub) (string, string) {
	t.Helper()
	a, b := httptest.NewServer(h), httptest.NewServer(h)
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	return a.URL, b.URL
}

func TestRoomsOverTwoHubsWithInspection(t *testing.T) {
	hub := newFakeHub()
	hub.admin, hub.adminPassword = "root", "pa:ss" // the password may hold ':'
	a, b := twoFakeHubs(t, hub)
	cfg := testConfig(t, a+","+b, "-scenario rooms -rooms 4 -per-room 5 -rate 2 -warmup 200ms -duration 1s -drain 1s"+
		" -inspect-hub "+b+" -admin root:pa:ss -inspect-concurrency 3 -inspect-list-every 4")
	res, err := run(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.PerHub) != 2 || res.PerHub[0] != (HubCount{URL: a, Clients: 10}) || res.PerHub[1] != (HubCount{URL: b, Clients: 10}) {
		t.Errorf("per hub %+v, want 10 clients on each of %s and %s", res.PerHub, a, b)
	}
	if ev := res.Events; ev.Lost != 0 || ev.Gaps != 0 || ev.OutOfOrder != 0 || ev.Duplicated != 0 || ev.Delivered != ev.Expected {
		t.Errorf("events %+v, want every one delivered once, in order", *ev)
	}
	in := res.Inspect
	if in == nil || in.Hub != b || in.Workers != 3 || in.Detail == nil || in.List == nil {
		t.Fatalf("inspect %+v, want hub %s, 3 workers, detail and list", in, b)
	}
	for _, ep := range []*EndpointResult{in.Detail, in.List} {
		if ep.OK == 0 || ep.OK != ep.Requests || len(ep.Errors) != 0 || ep.Latency == nil || ep.Latency.Samples != uint64(ep.OK) {
			t.Errorf("%s: %+v, want some requests, all ok, a latency per ok", ep.Path, *ep)
		}
		if want := float64(ep.OK) / res.DurationSeconds; ep.OKPerSec != want {
			t.Errorf("%s: ok_per_s %v, want %v", ep.Path, ep.OKPerSec, want)
		}
	}
	hub.mu.Lock()
	for id := range hub.inspected {
		if hub.rooms[id] == nil {
			t.Errorf("inspected %s, not a room of the run", id)
		}
	}
	// The fake counts warm-up requests too; the window's are fewer.
	if int64(hub.listed) < in.List.OK || int64(len(hub.inspected)) == 0 {
		t.Errorf("fake hub answered %d lists and %d rooms; report has %d lists", hub.listed, len(hub.inspected), in.List.OK)
	}
	hub.mu.Unlock()

	var out strings.Builder
	writeText(&out, res)
	for _, want := range []string{"hub      " + a + ": 10 clients", "inspect    " + b + ", 3 workers", "GET /api/admin/rooms/{id}", "GET /api/admin/rooms ", "out of order 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if err := writeJSON(&out, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"per_hub":[{"url":"` + a + `","clients":10,"dropped":0}`, `"inspect":{"hub":"` + b, `"ok_per_s":`, `"out_of_order":0`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("JSON lacks %q:\n%s", want, out.String())
		}
	}
}

func TestInspectionCountsErrorsByStatus(t *testing.T) {
	hub := newFakeHub()
	hub.admin, hub.adminPassword = "root", "secret12"
	hub.noAdminAPI = true // the endpoint is not deployed yet
	srv := httptest.NewServer(hub)
	defer srv.Close()
	cfg := testConfig(t, srv.URL, "-scenario rooms -rooms 2 -per-room 2 -rate 1 -warmup 0s -duration 1s -drain 500ms"+
		" -inspect-hub "+srv.URL+" -admin root:secret12 -inspect-concurrency 2")
	res, err := run(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatalf("a missing inspection endpoint must not fail the run: %v", err)
	}
	d := res.Inspect.Detail
	if d.OK != 0 || d.Requests == 0 || d.Errors["404"] != d.Requests || d.Latency != nil {
		t.Errorf("detail %+v, want every request counted as 404 and no latency", *d)
	}
	if res.Inspect.List != nil {
		t.Errorf("list %+v without -inspect-list-every, want none", *res.Inspect.List)
	}
}

func TestInspectionSetupErrors(t *testing.T) {
	hub := newFakeHub()
	hub.admin, hub.adminPassword = "root", "secret12"
	srv := httptest.NewServer(hub)
	defer srv.Close()
	tests := []struct {
		admin string
		want  []string
	}{
		{"root:wrong-password", []string{"-admin", "login root", "401"}},
		{"nobody:secret12", []string{"login nobody", "401"}},
		{"plain:whatever", []string{"plain", `role "user", not admin`}},
	}
	for _, tt := range tests {
		t.Run(tt.admin, func(t *testing.T) {
			cfg := testConfig(t, srv.URL, "-scenario rooms -rooms 1 -per-room 2 -rate 1 -duration 1s -inspect-hub "+srv.URL+" -admin "+tt.admin)
			_, err := run(context.Background(), cfg, testLogger(t))
			if err == nil {
				t.Fatal("run: no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
