package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"time"
)

// maxUserRate is the most msg/s loadgen sends as one user. The hub allows
// 20 sends per 10 s per user (PROTOCOL §8); 1.5/s leaves a quarter spare
// for window edges and clock skew.
const maxUserRate = 1.5

// config is the parsed command line.
type config struct {
	hubs               []string // base URLs, no trailing slash
	scenario           string
	receivers          int
	publishers         int
	rate               float64 // msg/s per room, all its publishers together
	rooms              int
	perRoom            int
	conns              int
	duration           time.Duration
	warmup             time.Duration
	drain              time.Duration
	setupTimeout       time.Duration
	hubPID             int
	connectConcurrency int
	json               bool
	cpuProfile         string

	// Room inspection load (fanout and rooms): -inspect-concurrency
	// workers sign in as admin on inspectHub and call the admin room
	// endpoints during the measured window. Off when inspectHub is "".
	inspectHub       string
	inspectConc      int
	inspectListEvery int // every n-th request of a worker is GET /api/admin/rooms; 0 = never
	admin            adminCred
}

// adminCred is the -admin name:password.
type adminCred struct {
	name, password string
}

const (
	scenarioFanout = "fanout"
	scenarioRooms  = "rooms"
	scenarioIdle   = "idle"
)

// parseConfig parses and checks args. The error is flag.ErrHelp for -h.
func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: loadgen -scenario fanout|rooms|idle [flags]\n\n")
		fs.PrintDefaults()
	}
	hubs := &hubList{urls: []string{"http://127.0.0.1:8080"}}
	fs.Var(hubs, "hubs", "hub base URL(s), comma-separated or the flag repeated; client i uses hub i mod n (default http://127.0.0.1:8080)")
	fs.StringVar(&c.scenario, "scenario", scenarioFanout, "fanout | rooms | idle")
	fs.IntVar(&c.receivers, "receivers", 1000, "fanout: receivers joined to the one room")
	fs.IntVar(&c.publishers, "publishers", 1, "logical publishers per room (each rotates over a pool of users)")
	fs.Float64Var(&c.rate, "rate", 100, "messages per second per room, all its publishers together")
	fs.IntVar(&c.rooms, "rooms", 100, "rooms: number of rooms")
	fs.IntVar(&c.perRoom, "per-room", 10, "rooms: members per room (all receive, some publish); idle: connections per room (0: join none)")
	fs.IntVar(&c.conns, "conns", 10000, "idle: connections to open and hold")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "measured time")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "time before measuring (traffic runs, latencies not recorded); idle: settle time before the RSS reading")
	fs.DurationVar(&c.drain, "drain", 5*time.Second, "after the last send, longest wait for replies and events in flight")
	fs.DurationVar(&c.setupTimeout, "setup-timeout", 5*time.Minute, "longest time for accounts, rooms and connections")
	fs.IntVar(&c.hubPID, "hub-pid", 0, "idle: pid of the (single, local) hub whose VmRSS to read from /proc")
	fs.IntVar(&c.connectConcurrency, "connect-concurrency", 50, "set-up requests and WebSocket dials in flight at once")
	fs.BoolVar(&c.json, "json", false, "also print the result as one JSON object")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write loadgen's own CPU profile to this file")
	fs.StringVar(&c.inspectHub, "inspect-hub", "", "fanout, rooms: base URL of a hub to load with admin room inspection during the measured window (needs -admin)")
	fs.IntVar(&c.inspectConc, "inspect-concurrency", 4, "inspection workers, each with one request in flight")
	fs.IntVar(&c.inspectListEvery, "inspect-list-every", 0, "every n-th request of a worker lists GET /api/admin/rooms instead of one room (0: never)")
	admin := fs.String("admin", "", "name:password of an admin account, for -inspect-hub")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.hubs = hubs.urls
	seen := make(map[string]bool, len(c.hubs))
	for _, h := range c.hubs {
		if seen[h] {
			return c, fmt.Errorf("-hubs: %s is given twice", h)
		}
		seen[h] = true
	}
	if c.inspectHub != "" {
		u, err := parseBaseURL(c.inspectHub)
		if err != nil {
			return c, fmt.Errorf("-inspect-hub: %w", err)
		}
		c.inspectHub = u
	}
	if *admin != "" {
		var err error
		if c.admin, err = parseAdmin(*admin); err != nil {
			return c, err
		}
	}
	return c, c.check()
}

// hubList is the -hubs flag: each use adds comma-separated URLs; the first
// use replaces the default.
type hubList struct {
	urls []string
	set  bool // the flag was given at least once
}

func (h *hubList) String() string {
	if h == nil {
		return ""
	}
	return strings.Join(h.urls, ",")
}

func (h *hubList) Set(s string) error {
	urls, err := parseHubs(s)
	if err != nil {
		return err
	}
	if !h.set {
		h.urls, h.set = nil, true
	}
	h.urls = append(h.urls, urls...)
	return nil
}

// parseHubs splits and checks one -hubs value.
func parseHubs(s string) ([]string, error) {
	var out []string
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		u, err := parseBaseURL(h)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("no URL given")
	}
	return out, nil
}

// parseBaseURL checks an http(s) base URL and drops its trailing slashes.
func parseBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an http(s) base URL", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// parseAdmin reads -admin name:password (the password may hold ':').
func parseAdmin(s string) (adminCred, error) {
	name, password, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return adminCred{}, errors.New("-admin must be name:password")
	case name == "":
		return adminCred{}, errors.New("-admin: name before ':' is empty")
	case password == "":
		return adminCred{}, errors.New("-admin: password after ':' is empty")
	}
	return adminCred{name: name, password: password}, nil
}

func (c *config) check() error {
	positive := func(name string, v int) error {
		if v < 1 {
			return fmt.Errorf("%s must be at least 1, got %d", name, v)
		}
		return nil
	}
	if err := positive("-connect-concurrency", c.connectConcurrency); err != nil {
		return err
	}
	if c.duration <= 0 || c.warmup < 0 || c.drain < 0 || c.setupTimeout <= 0 {
		return errors.New("-duration and -setup-timeout must be positive, -warmup and -drain not negative")
	}
	if err := c.checkInspect(); err != nil {
		return err
	}
	switch c.scenario {
	case scenarioFanout, scenarioRooms:
		if err := positive("-publishers", c.publishers); err != nil {
			return err
		}
		if !(c.rate > 0) || math.IsInf(c.rate, 0) {
			return fmt.Errorf("-rate must be positive, got %v", c.rate)
		}
		if c.scenario == scenarioFanout {
			return positive("-receivers", c.receivers)
		}
		if err := positive("-rooms", c.rooms); err != nil {
			return err
		}
		if err := positive("-per-room", c.perRoom); err != nil {
			return err
		}
		if need := c.publishers * poolSize(c.rate/float64(c.publishers)); need > c.perRoom {
			return fmt.Errorf("rooms: -rate %v msg/s per room needs %d publishing members (at most %v msg/s per user, the hub allows 20 sends per 10 s) but -per-room is %d; lower -rate to at most %v or raise -per-room",
				c.rate, need, maxUserRate, c.perRoom, maxUserRate*float64(c.perRoom/c.publishers*c.publishers))
		}
	case scenarioIdle:
		if err := positive("-conns", c.conns); err != nil {
			return err
		}
		if c.perRoom < 0 {
			return fmt.Errorf("-per-room must not be negative, got %d", c.perRoom)
		}
		if c.hubPID < 0 {
			return fmt.Errorf("-hub-pid must not be negative, got %d", c.hubPID)
		}
	default:
		return fmt.Errorf("-scenario must be fanout, rooms or idle, got %q", c.scenario)
	}
	return nil
}

// checkInspect checks the inspection flags: they go together, and only
// with a traffic scenario (its rooms are what gets inspected).
func (c *config) checkInspect() error {
	if c.inspectHub == "" {
		if c.admin.name != "" {
			return errors.New("-admin is only used with -inspect-hub")
		}
		return nil
	}
	switch {
	case c.scenario != scenarioFanout && c.scenario != scenarioRooms:
		return fmt.Errorf("-inspect-hub needs the fanout or rooms scenario (its rooms are inspected), not %q", c.scenario)
	case c.admin.name == "":
		return errors.New("-inspect-hub needs -admin name:password of an admin account")
	case c.inspectConc < 1 || c.inspectConc > 10000:
		return fmt.Errorf("-inspect-concurrency must be in 1..10000, got %d", c.inspectConc)
	case c.inspectListEvery < 0:
		return fmt.Errorf("-inspect-list-every must not be negative, got %d", c.inspectListEvery)
	}
	return nil
}

// poolSize is how many distinct users it takes to send rate msg/s with none
// above maxUserRate.
func poolSize(rate float64) int {
	return max(1, int(math.Ceil(rate/maxUserRate-1e-9)))
}

// totalConns is how many WebSocket connections the scenario opens.
func (c *config) totalConns() int {
	switch c.scenario {
	case scenarioFanout:
		return c.receivers + c.publishers*poolSize(c.rate/float64(c.publishers))
	case scenarioRooms:
		return c.rooms * c.perRoom
	default:
		return c.conns
	}
}
