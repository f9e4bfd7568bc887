package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Run runs the whole contract suite. open must return a fresh, empty store
// for each call and arrange for it to be closed (t.Cleanup); Run calls it
// once per subtest so no test depends on another's data.
func Run(t *testing.T, open func(t *testing.T) Store) {
	groups := []struct {
		name  string
		tests []storeTest
	}{
		{"Accounts", accountTests},
		{"Rooms", roomTests},
		{"Messages", messageTests},
		{"History", historyTests},
		{"Concurrency", concurrencyTests},
		{"Activity", activityTests},
		{"Audit", auditTests},
		{"Webhooks", webhookTests},
		{"Calls", callTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.run(t, open(t))
				})
			}
		})
	}
}

// storeTest is one row of a table: a named check against a fresh store.
type storeTest struct {
	name string
	run  func(t *testing.T, s Store)
}

// fixture creates accounts and rooms with deterministic, distinct creation
// times, so ordering checks never depend on two rows sharing a microsecond.
type fixture struct {
	t     *testing.T
	s     Store
	clock time.Time
}

func newFixture(t *testing.T, s Store) *fixture {
	return &fixture{t: t, s: s, clock: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
}

func (f *fixture) tick() time.Time {
	f.clock = f.clock.Add(time.Second + time.Microsecond)
	return f.clock
}

func (f *fixture) ctx() context.Context { return f.t.Context() }

func (f *fixture) account(username string, role chat.Role) chat.Account {
	f.t.Helper()
	a := chat.Account{
		User: chat.User{
			ID:          chat.NewID("u_"),
			Username:    username,
			DisplayName: "Display " + username,
			Role:        role,
		},
		PasswordHash: "hash-" + username,
		CreatedAt:    f.tick(),
	}
	if err := f.s.CreateAccount(f.ctx(), a); err != nil {
		f.t.Fatalf("CreateAccount(%q): got error %v, want nil", username, err)
	}
	return a
}

func (f *fixture) user(username string) chat.Account { return f.account(username, chat.RoleUser) }

func (f *fixture) room(kind chat.RoomKind, owner chat.Account, members ...chat.Account) chat.Room {
	f.t.Helper()
	r := chat.Room{
		ID:        chat.NewID("r_"),
		Name:      fmt.Sprintf("%s room of %s", kind, owner.User.Username),
		Kind:      kind,
		CreatedBy: owner.User.ID,
		CreatedAt: f.tick(),
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.User.ID
	}
	key := ""
	if kind == chat.KindDirect {
		key = owner.User.ID + ":" + ids[0]
	}
	if err := f.s.CreateRoom(f.ctx(), r, owner.User.ID, ids, key); err != nil {
		f.t.Fatalf("CreateRoom(%s): got error %v, want nil", kind, err)
	}
	return r
}

// msg builds a message for AppendMessage; cmid may be empty.
func (f *fixture) msg(room chat.Room, from chat.Account, text, cmid string) chat.Message {
	return chat.Message{
		ID:          chat.NewID("m_"),
		Room:        room.ID,
		From:        chat.User{ID: from.User.ID},
		Text:        text,
		ClientMsgID: cmid,
		CreatedAt:   f.tick(),
	}
}

func (f *fixture) send(room chat.Room, from chat.Account, text, cmid string) chat.Message {
	f.t.Helper()
	got, created, err := f.s.AppendMessage(f.ctx(), f.msg(room, from, text, cmid))
	if err != nil {
		f.t.Fatalf("AppendMessage(%q): got error %v, want nil", text, err)
	}
	if !created {
		f.t.Fatalf("AppendMessage(%q): got created=false, want true", text)
	}
	return got
}

func (f *fixture) sendN(room chat.Room, from chat.Account, n int) []chat.Message {
	f.t.Helper()
	out := make([]chat.Message, n)
	for i := range out {
		out[i] = f.send(room, from, fmt.Sprintf("message %d", i+1), "")
	}
	return out
}
