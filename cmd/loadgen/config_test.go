package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestPoolSize(t *testing.T) {
	for rate, want := range map[float64]int{0.1: 1, 1: 1, 1.5: 1, 1.6: 2, 3: 2, 20: 14, 100: 67} {
		if got := poolSize(rate); got != want {
			t.Errorf("poolSize(%v) = %d, want %d", rate, got, want)
		}
		if got := poolSize(rate); rate/float64(got) > maxUserRate+1e-9 {
			t.Errorf("poolSize(%v) = %d leaves %v msg/s per user", rate, got, rate/float64(got))
		}
	}
}

func TestParseConfig(t *testing.T) {
	c, err := parseConfig(strings.Fields("-hubs http://127.0.0.1:8080/,http://127.0.0.1:8081 -receivers 50 -rate 20 -duration 5s"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.hubs) != 2 || c.hubs[0] != "http://127.0.0.1:8080" || c.scenario != scenarioFanout {
		t.Errorf("got hubs %q scenario %q", c.hubs, c.scenario)
	}
	if got, want := c.totalConns(), 50+14; got != want {
		t.Errorf("totalConns = %d, want %d", got, want)
	}
	bad := []string{
		"-scenario bogus",
		"-hubs ftp://x",
		"-hubs ,",
		"-rate 0",
		"-scenario rooms -rooms 3 -per-room 10 -rate 100", // needs 67 publishing members
		"-scenario idle -conns 0",
		"-duration 0s",
		"extra",
	}
	for _, args := range bad {
		if _, err := parseConfig(strings.Fields(args), io.Discard); err == nil {
			t.Errorf("parseConfig(%q): no error", args)
		}
	}
	if _, err := parseConfig(strings.Fields("-scenario rooms -rooms 3 -per-room 10 -rate 15"), io.Discard); err != nil {
		t.Errorf("rooms at 15 msg/s with 10 members: %v", err)
	}
}

func TestPlans(t *testing.T) {
	c := config{scenario: scenarioRooms, rooms: 3, perRoom: 4, publishers: 2, rate: 5}
	p := roomsPlan(c)
	if len(p.joins) != 12 || len(p.pubs) != 6 {
		t.Fatalf("rooms plan: %d conns %d publishers, want 12 and 6", len(p.joins), len(p.pubs))
	}
	for _, pp := range p.pubs {
		for _, ci := range pp.pool {
			if p.joins[ci] != pp.room {
				t.Errorf("publisher %s uses conn %d of room %d, want a member of room %d", pp.name, ci, p.joins[ci], pp.room)
			}
		}
		if pp.rate/float64(len(pp.pool)) > maxUserRate {
			t.Errorf("publisher %s: %v msg/s per user", pp.name, pp.rate/float64(len(pp.pool)))
		}
	}
	f := fanoutPlan(config{scenario: scenarioFanout, receivers: 10, publishers: 2, rate: 100})
	if got, want := len(f.joins), 10+2*34; got != want {
		t.Errorf("fanout plan: %d conns, want %d", got, want)
	}
}

func TestHubsFlag(t *testing.T) {
	tests := []struct {
		name string
		args string
		want []string // nil: an error
	}{
		{"default", "", []string{"http://127.0.0.1:8080"}},
		{"one hub", "-hubs http://h:1", []string{"http://h:1"}},
		{"comma list, trailing slash and spaces dropped", "-hubs http://a:1/,,https://b:2//", []string{"http://a:1", "https://b:2"}},
		{"repeated flag adds, default replaced", "-hubs http://a:1 -hubs http://b:2,http://c:3", []string{"http://a:1", "http://b:2", "http://c:3"}},
		{"same hub twice", "-hubs http://a:1,http://a:1/", nil},
		{"same hub twice over two flags", "-hubs http://a:1 -hubs http://a:1", nil},
		{"not http", "-hubs ws://a:1", nil},
		{"no host", "-hubs http://", nil},
		{"query", "-hubs http://a:1/?x=1", nil},
		{"empty", "-hubs ,", nil},
		{"one bad among good", "-hubs http://a:1,b:2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(strings.Fields(tt.args), io.Discard)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("got hubs %q, want an error", c.hubs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(c.hubs, " ") != strings.Join(tt.want, " ") {
				t.Errorf("hubs %q, want %q", c.hubs, tt.want)
			}
		})
	}
}

func TestInspectFlags(t *testing.T) {
	const rooms = "-scenario rooms -rooms 3 -per-room 10 -rate 1 "
	tests := []struct {
		name    string
		args    string
		want    config // the inspection fields only
		wantErr string // part of the error; "" = no error
	}{
		{"off by default", rooms, config{inspectConc: 4}, ""},
		{"on", rooms + "-inspect-hub http://h:1/ -admin root:pw", config{inspectHub: "http://h:1", inspectConc: 4, admin: adminCred{"root", "pw"}}, ""},
		{"password with colons", rooms + "-inspect-hub http://h:1 -admin root:a:b: -inspect-concurrency 16 -inspect-list-every 10",
			config{inspectHub: "http://h:1", inspectConc: 16, inspectListEvery: 10, admin: adminCred{"root", "a:b:"}}, ""},
		{"fanout too", "-receivers 5 -rate 1 -inspect-hub http://h:1 -admin a:b", config{inspectHub: "http://h:1", inspectConc: 4, admin: adminCred{"a", "b"}}, ""},
		{"no admin", rooms + "-inspect-hub http://h:1", config{}, "needs -admin"},
		{"admin without hub", rooms + "-admin root:pw", config{}, "only used with -inspect-hub"},
		{"admin without password", rooms + "-inspect-hub http://h:1 -admin root:", config{}, "password after ':' is empty"},
		{"admin without name", rooms + "-inspect-hub http://h:1 -admin :pw", config{}, "name before ':' is empty"},
		{"admin without colon", rooms + "-inspect-hub http://h:1 -admin root", config{}, "name:password"},
		{"bad hub URL", rooms + "-inspect-hub h:1 -admin a:b", config{}, "-inspect-hub"},
		{"no workers", rooms + "-inspect-hub http://h:1 -admin a:b -inspect-concurrency 0", config{}, "-inspect-concurrency"},
		{"negative list", rooms + "-inspect-hub http://h:1 -admin a:b -inspect-list-every -1", config{}, "-inspect-list-every"},
		{"idle has no rooms to inspect", "-scenario idle -conns 10 -inspect-hub http://h:1 -admin a:b", config{}, "fanout or rooms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(strings.Fields(tt.args), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := config{inspectHub: c.inspectHub, inspectConc: c.inspectConc, inspectListEvery: c.inspectListEvery, admin: c.admin}
			if got.inspectHub != tt.want.inspectHub || got.inspectConc != tt.want.inspectConc ||
				got.inspectListEvery != tt.want.inspectListEvery || got.admin != tt.want.admin {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestSpreadOverHubs checks the round robin on the plans: every hub gets
// its share of the clients, every room has members on every hub (at most
// one apart), and the publishers are spread too.
func TestSpreadOverHubs(t *testing.T) {
	tests := []struct {
		name       string
		cfg        config
		hubs       int
		wantPerHub []int
	}{
		{"the issue's benchmark", config{scenario: scenarioRooms, rooms: 300, perRoom: 10, publishers: 1, rate: 1}, 3, []int{1000, 1000, 1000}},
		{"two hubs, odd rooms", config{scenario: scenarioRooms, rooms: 3, perRoom: 5, publishers: 1, rate: 2}, 2, []int{8, 7}},
		{"one hub", config{scenario: scenarioRooms, rooms: 2, perRoom: 4, publishers: 2, rate: 3}, 1, []int{8}},
		{"fanout", config{scenario: scenarioFanout, receivers: 10, publishers: 1, rate: 3}, 3, []int{4, 4, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var plan trafficPlan
			if tt.cfg.scenario == scenarioRooms {
				plan = roomsPlan(tt.cfg)
			} else {
				plan = fanoutPlan(tt.cfg)
			}
			perHub := make([]int, tt.hubs)
			perRoomHub := make(map[int][]int) // room → members per hub
			for i, r := range plan.joins {
				h := hubFor(i, tt.hubs)
				perHub[h]++
				if r >= 0 {
					if perRoomHub[r] == nil {
						perRoomHub[r] = make([]int, tt.hubs)
					}
					perRoomHub[r][h]++
				}
			}
			if fmt.Sprint(perHub) != fmt.Sprint(tt.wantPerHub) {
				t.Errorf("clients per hub %v, want %v", perHub, tt.wantPerHub)
			}
			for r, counts := range perRoomHub {
				if lo, hi := slices.Min(counts), slices.Max(counts); hi-lo > 1 {
					t.Errorf("room %d: members per hub %v, want at most one apart", r, counts)
				}
			}
			pubHubs := make([]int, tt.hubs)
			for _, p := range plan.pubs {
				pubHubs[hubFor(p.pool[0], tt.hubs)]++
			}
			if lo, hi := slices.Min(pubHubs), slices.Max(pubHubs); len(plan.pubs) >= tt.hubs && hi-lo > 1 {
				t.Errorf("publishers' first users per hub %v, want at most one apart", pubHubs)
			}
		})
	}
}
