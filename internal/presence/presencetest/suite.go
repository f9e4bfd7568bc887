// Package presencetest is the contract test suite every presence backend
// passes. Run calls each test against a fresh, empty backend made by the
// caller; a shared backend (Redis) must give each call its own namespace.
package presencetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/presence"
)

// P is the method set of a presence backend.
type P interface {
	// Join records a connection; first = the user's first in the room.
	Join(ctx context.Context, room string, u chat.User, connID string) (first bool, err error)
	// Leave removes a connection; last = it was the user's last in the room.
	// Unknown room, user or connection: false, nil.
	Leave(ctx context.Context, room, userID, connID string) (last bool, err error)
	// Online lists the room's users with a connection, sorted by ID.
	Online(ctx context.Context, room string) ([]chat.User, error)
	// Connections lists the room's connections, sorted by user ID, Since, ID.
	Connections(ctx context.Context, room string) ([]presence.Conn, error)
}

func user(id string) chat.User {
	return chat.User{ID: id, Username: "name_" + id, DisplayName: "Name " + id, Role: chat.RoleUser}
}

// step is one call in a scripted scenario, with what it must return.
type step struct {
	op     string // "join" or "leave"
	room   string
	user   string
	conn   string
	want   bool // first for join, last for leave
	wantOK bool // false when an error is expected
}

func join(room, u, conn string, first bool) step {
	return step{op: "join", room: room, user: u, conn: conn, want: first, wantOK: true}
}

func leave(room, u, conn string, last bool) step {
	return step{op: "leave", room: room, user: u, conn: conn, want: last, wantOK: true}
}

func bad(op, room, u, conn string) step {
	return step{op: op, room: room, user: u, conn: conn}
}

// Run runs the whole suite. newP must return a fresh, empty backend.
func Run(t *testing.T, newP func(t *testing.T) P) {
	t.Run("Transitions", func(t *testing.T) { testTransitions(t, newP) })
	t.Run("Online", func(t *testing.T) { testOnline(t, newP) })
	t.Run("Connections", func(t *testing.T) { testConnections(t, newP) })
	t.Run("LatestUserWins", func(t *testing.T) { testLatestUserWins(t, newP) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newP) })
}

func testTransitions(t *testing.T, newP func(t *testing.T) P) {
	tests := []struct {
		name  string
		steps []step
		// online is the users online in room "r" at the end.
		online []string
	}{
		{
			name:   "first and last of one connection",
			steps:  []step{join("r", "u1", "c1", true), leave("r", "u1", "c1", true)},
			online: nil,
		},
		{
			name: "two connections of one user",
			steps: []step{
				join("r", "u1", "c1", true), join("r", "u1", "c2", false),
				leave("r", "u1", "c1", false), leave("r", "u1", "c2", true),
			},
		},
		{
			name:   "two users each first",
			steps:  []step{join("r", "u1", "c1", true), join("r", "u2", "c2", true), leave("r", "u1", "c1", true)},
			online: []string{"u2"},
		},
		{
			name:   "rejoin same connection is idempotent",
			steps:  []step{join("r", "u1", "c1", true), join("r", "u1", "c1", false), leave("r", "u1", "c1", true), leave("r", "u1", "c1", false)},
			online: nil,
		},
		{
			name:   "rooms are independent",
			steps:  []step{join("r", "u1", "c1", true), join("other", "u1", "c1", true), leave("other", "u1", "c1", true)},
			online: []string{"u1"},
		},
		{
			name:  "leave unknown room",
			steps: []step{leave("nowhere", "u1", "c1", false)},
		},
		{
			name:   "leave unknown connection",
			steps:  []step{join("r", "u1", "c1", true), leave("r", "u1", "c9", false)},
			online: []string{"u1"},
		},
		{
			name:   "leave with the wrong user",
			steps:  []step{join("r", "u1", "c1", true), leave("r", "u2", "c1", false), leave("r", "u1", "c1", true)},
			online: nil,
		},
		{
			name:   "connection ID taken by another user",
			steps:  []step{join("r", "u1", "c1", true), bad("join", "r", "u2", "c1")},
			online: []string{"u1"},
		},
		{
			name:   "join again after last left",
			steps:  []step{join("r", "u1", "c1", true), leave("r", "u1", "c1", true), join("r", "u1", "c2", true)},
			online: []string{"u1"},
		},
		{
			name: "empty ids are refused",
			steps: []step{
				bad("join", "", "u1", "c1"), bad("join", "r", "", "c1"), bad("join", "r", "u1", ""),
				bad("leave", "", "u1", "c1"), bad("leave", "r", "", "c1"), bad("leave", "r", "u1", ""),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newP(t)
			ctx := context.Background()
			for i, s := range tt.steps {
				var got bool
				var err error
				switch s.op {
				case "join":
					got, err = p.Join(ctx, s.room, user(s.user), s.conn)
				case "leave":
					got, err = p.Leave(ctx, s.room, s.user, s.conn)
				}
				if !s.wantOK {
					if err == nil {
						t.Fatalf("step %d %s(%q, %q, %q): got nil error, want one", i, s.op, s.room, s.user, s.conn)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d %s(%q, %q, %q): %v", i, s.op, s.room, s.user, s.conn, err)
				}
				if got != s.want {
					t.Fatalf("step %d %s(%q, %q, %q): got %v, want %v", i, s.op, s.room, s.user, s.conn, got, s.want)
				}
			}
			checkOnline(t, p, "r", tt.online)
		})
	}
}

func checkOnline(t *testing.T, p P, room string, want []string) {
	t.Helper()
	users, err := p.Online(context.Background(), room)
	if err != nil {
		t.Fatalf("Online: %v", err)
	}
	var got []string
	for _, u := range users {
		got = append(got, u.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Online(%q): got %q, want %q", room, got, want)
	}
}

func testOnline(t *testing.T, newP func(t *testing.T) P) {
	p := newP(t)
	ctx := context.Background()
	ids := []string{"u5", "u1", "u3", "u10", "u2"}
	for i, id := range ids {
		if _, err := p.Join(ctx, "r", user(id), fmt.Sprintf("c%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Join(ctx, "r", user("u3"), "extra"); err != nil {
		t.Fatal(err)
	}
	checkOnline(t, p, "r", []string{"u1", "u10", "u2", "u3", "u5"})
	checkOnline(t, p, "empty", nil)

	users, err := p.Online(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := users[0], user("u1"); got != want {
		t.Errorf("Online user: got %+v, want %+v", got, want)
	}
}

func testConnections(t *testing.T, newP func(t *testing.T) P) {
	p := newP(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	joins := []struct{ u, c string }{{"u2", "c-b"}, {"u1", "c-a"}, {"u2", "c-a2"}}
	for _, j := range joins {
		if _, err := p.Join(ctx, "r", user(j.u), j.c); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct Since even at ms precision
	}
	after := time.Now().Add(time.Second)

	conns, err := p.Connections(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range conns {
		got = append(got, c.UserID+"/"+c.ID)
		if c.Node == "" {
			t.Errorf("conn %s: empty Node", c.ID)
		}
		if c.Node != conns[0].Node {
			t.Errorf("conn %s: Node %q, want %q like the others", c.ID, c.Node, conns[0].Node)
		}
		if c.Since.Before(before) || c.Since.After(after) {
			t.Errorf("conn %s: Since %v, want between %v and %v", c.ID, c.Since, before, after)
		}
	}
	want := []string{"u1/c-a", "u2/c-b", "u2/c-a2"} // by user, then Since
	if !slices.Equal(got, want) {
		t.Fatalf("Connections: got %q, want %q", got, want)
	}

	if _, err := p.Leave(ctx, "r", "u2", "c-b"); err != nil {
		t.Fatal(err)
	}
	conns, err = p.Connections(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(conns) != 2 {
		t.Fatalf("after leave: got %d connections, want 2", len(conns))
	}
	none, err := p.Connections(ctx, "nobody-here")
	if err != nil || len(none) != 0 {
		t.Fatalf("empty room: got %v, %v; want none, nil", none, err)
	}
}

func testLatestUserWins(t *testing.T, newP func(t *testing.T) P) {
	p := newP(t)
	ctx := context.Background()
	u := user("u1")
	if _, err := p.Join(ctx, "r", u, "c1"); err != nil {
		t.Fatal(err)
	}
	u.DisplayName = "Renamed"
	if _, err := p.Join(ctx, "r", u, "c2"); err != nil {
		t.Fatal(err)
	}
	users, err := p.Online(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].DisplayName != "Renamed" {
		t.Fatalf("got %+v, want one user named Renamed", users)
	}
}

// testConcurrent joins and leaves many connections of a few users at once:
// each user must see exactly one first and one last per round, and the room
// must end empty.
func testConcurrent(t *testing.T, newP func(t *testing.T) P) {
	p := newP(t)
	ctx := context.Background()
	const (
		users  = 8
		conns  = 16
		rounds = 5
		rooms  = 3
	)
	for round := range rounds {
		for _, phase := range []string{"join", "leave"} {
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				count = map[string]int{} // room/user → true results
				errs  []error
			)
			for r := range rooms {
				for u := range users {
					for c := range conns {
						wg.Go(func() {
							room, uid := fmt.Sprintf("room%d", r), fmt.Sprintf("user%d", u)
							cid := fmt.Sprintf("conn-%d-%d", u, c)
							var ok bool
							var err error
							if phase == "join" {
								ok, err = p.Join(ctx, room, user(uid), cid)
							} else {
								ok, err = p.Leave(ctx, room, uid, cid)
							}
							mu.Lock()
							defer mu.Unlock()
							if err != nil {
								errs = append(errs, err)
							}
							if ok {
								count[room+"/"+uid]++
							}
						})
					}
				}
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("round %d %s: %v", round, phase, err)
			}
			for r := range rooms {
				for u := range users {
					key := fmt.Sprintf("room%d/user%d", r, u)
					if count[key] != 1 {
						t.Fatalf("round %d %s %s: got %d true results, want exactly 1", round, phase, key, count[key])
					}
				}
			}
			if phase == "join" {
				got, err := p.Connections(ctx, "room0")
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != users*conns {
					t.Fatalf("round %d: got %d connections, want %d", round, len(got), users*conns)
				}
			}
		}
		for r := range rooms {
			checkOnline(t, p, fmt.Sprintf("room%d", r), nil)
		}
	}
}
