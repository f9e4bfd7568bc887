package main

import (
	"io"
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
