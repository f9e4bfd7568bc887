package storetest

import (
	"slices"
	"testing"

	"github.com/pawfect/hub/internal/chat"
)

func roomIDs(rs []chat.Room) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func memberList(ms []chat.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.User.Username + "/" + string(m.Role)
	}
	return out
}

var roomTests = []storeTest{
	{"CreateAndGet", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := chat.Room{
			ID:        chat.NewID("r_"),
			Name:      "General",
			Kind:      chat.KindPublic,
			CreatedBy: alice.User.ID,
			CreatedAt: f.tick().Add(987), // sub-microsecond part must be dropped
			AI:        &chat.AIConfig{Models: []string{"m1", "m2"}, SystemPrompt: "be nice", Trigger: "@ai"},
		}
		wantErr(t, "CreateRoom", s.CreateRoom(f.ctx(), r, alice.User.ID, nil, ""), nil)
		got, err := s.Room(f.ctx(), r.ID)
		wantErr(t, "Room", err, nil)
		checkRoom(t, "Room", got, r)

		plain := f.room(chat.KindPrivate, alice)
		got, err = s.Room(f.ctx(), plain.ID)
		wantErr(t, "Room(no AI)", err, nil)
		checkRoom(t, "Room(no AI)", got, plain)
	}},
	{"UnknownRoomNotFound", func(t *testing.T, s Store) {
		_, err := s.Room(t.Context(), "r_nope")
		wantErr(t, "Room(unknown)", err, chat.ErrNotFound)
	}},
	{"DuplicateIDConflicts", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		r.Name = "again"
		wantErr(t, "CreateRoom(duplicate id)", s.CreateRoom(f.ctx(), r, alice.User.ID, nil, ""), chat.ErrConflict)
	}},
	{"CreateWithUnknownMemberStoresNothing", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := chat.Room{ID: chat.NewID("r_"), Name: "x", Kind: chat.KindPrivate, CreatedBy: alice.User.ID, CreatedAt: f.tick()}
		err := s.CreateRoom(f.ctx(), r, alice.User.ID, []string{"u_ghost"}, "")
		wantErr(t, "CreateRoom(unknown member)", err, chat.ErrNotFound)
		_, err = s.Room(f.ctx(), r.ID)
		wantErr(t, "Room(after failed create)", err, chat.ErrNotFound)
	}},
	{"RoomsFor", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob, carol, dave := f.user("alice"), f.user("bob"), f.user("carol"), f.user("dave")
		pub := f.room(chat.KindPublic, alice)
		privA := f.room(chat.KindPrivate, alice)
		privB := f.room(chat.KindPrivate, bob, carol)
		direct := f.room(chat.KindDirect, alice, bob)
		pub2 := f.room(chat.KindPublic, carol)
		for _, tc := range []struct {
			user chat.Account
			want []chat.Room
		}{
			{alice, []chat.Room{pub, privA, direct, pub2}},
			{bob, []chat.Room{pub, privB, direct, pub2}},
			{carol, []chat.Room{pub, privB, pub2}},
			{dave, []chat.Room{pub, pub2}},
		} {
			got, err := s.RoomsFor(f.ctx(), tc.user.User.ID)
			wantErr(t, "RoomsFor("+tc.user.User.Username+")", err, nil)
			if g, w := roomIDs(got), roomIDs(tc.want); !slices.Equal(g, w) {
				t.Errorf("RoomsFor(%s): got %v, want %v", tc.user.User.Username, g, w)
			}
		}
		got, _ := s.RoomsFor(f.ctx(), alice.User.ID)
		if len(got) > 0 {
			checkRoom(t, "RoomsFor(alice)[0]", got[0], pub)
		}
	}},
	{"MembersOrder", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob, carol, dave, erin := f.user("alice"), f.user("bob"), f.user("carol"), f.user("dave"), f.user("erin")
		// Listing the owner among members, and a member twice, must not
		// add anyone twice.
		r := f.room(chat.KindPrivate, alice, carol, alice, bob, carol)
		wantErr(t, "AddMember(dave)", s.AddMember(f.ctx(), r.ID, dave.User.ID, chat.MemberMember), nil)
		wantErr(t, "AddMember(erin as owner)", s.AddMember(f.ctx(), r.ID, erin.User.ID, chat.MemberOwner), nil)
		got, err := s.Members(f.ctx(), r.ID)
		wantErr(t, "Members", err, nil)
		want := []string{"alice/owner", "erin/owner", "carol/member", "bob/member", "dave/member"}
		if g := memberList(got); !slices.Equal(g, want) {
			t.Fatalf("Members: got %v, want %v", g, want)
		}
		if got[0].User != alice.User {
			t.Errorf("Members[0].User: got %+v, want %+v", got[0].User, alice.User)
		}

		wantErr(t, "DeleteAccount(bob)", s.DeleteAccount(f.ctx(), bob.User.ID), nil)
		got, err = s.Members(f.ctx(), r.ID)
		wantErr(t, "Members(after delete)", err, nil)
		want = []string{"alice/owner", "erin/owner", "carol/member", "dave/member"}
		if g := memberList(got); !slices.Equal(g, want) {
			t.Fatalf("Members(after deleting bob): got %v, want %v", g, want)
		}
		_, err = s.MemberRole(f.ctx(), r.ID, bob.User.ID)
		wantErr(t, "MemberRole(deleted bob)", err, chat.ErrNotFound)
	}},
	{"MemberRole", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob, carol := f.user("alice"), f.user("bob"), f.user("carol")
		r := f.room(chat.KindPrivate, alice, bob)
		for _, tc := range []struct {
			room, user string
			want       chat.MemberRole
			err        error
		}{
			{r.ID, alice.User.ID, chat.MemberOwner, nil},
			{r.ID, bob.User.ID, chat.MemberMember, nil},
			{r.ID, carol.User.ID, "", chat.ErrNotFound},
			{"r_nope", alice.User.ID, "", chat.ErrNotFound},
		} {
			got, err := s.MemberRole(f.ctx(), tc.room, tc.user)
			wantErr(t, "MemberRole", err, tc.err)
			if got != tc.want {
				t.Errorf("MemberRole(%s, %s): got %q, want %q", tc.room, tc.user, got, tc.want)
			}
		}
	}},
	{"AddMember", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob, carol, gone := f.user("alice"), f.user("bob"), f.user("carol"), f.user("gone")
		wantErr(t, "DeleteAccount(gone)", s.DeleteAccount(f.ctx(), gone.User.ID), nil)
		r := f.room(chat.KindPrivate, alice, bob)
		for _, tc := range []struct {
			name       string
			room, user string
			err        error
		}{
			{"new member", r.ID, carol.User.ID, nil},
			{"already member", r.ID, bob.User.ID, chat.ErrConflict},
			{"owner again", r.ID, alice.User.ID, chat.ErrConflict},
			{"unknown room", "r_nope", carol.User.ID, chat.ErrNotFound},
			{"unknown user", r.ID, "u_nope", chat.ErrNotFound},
			{"deleted user", r.ID, gone.User.ID, chat.ErrNotFound},
		} {
			wantErr(t, "AddMember("+tc.name+")", s.AddMember(f.ctx(), tc.room, tc.user, chat.MemberMember), tc.err)
		}
		role, err := s.MemberRole(f.ctx(), r.ID, carol.User.ID)
		wantErr(t, "MemberRole(carol)", err, nil)
		if role != chat.MemberMember {
			t.Errorf("MemberRole(carol): got %q, want %q", role, chat.MemberMember)
		}
		rooms, err := s.RoomsFor(f.ctx(), carol.User.ID)
		wantErr(t, "RoomsFor(carol)", err, nil)
		if g, w := roomIDs(rooms), []string{r.ID}; !slices.Equal(g, w) {
			t.Errorf("RoomsFor(carol): got %v, want %v", g, w)
		}
	}},
	{"RemoveMember", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob := f.user("alice"), f.user("bob")
		r := f.room(chat.KindPrivate, alice, bob)
		wantErr(t, "RemoveMember(bob)", s.RemoveMember(f.ctx(), r.ID, bob.User.ID), nil)
		_, err := s.MemberRole(f.ctx(), r.ID, bob.User.ID)
		wantErr(t, "MemberRole(removed)", err, chat.ErrNotFound)
		wantErr(t, "RemoveMember(again)", s.RemoveMember(f.ctx(), r.ID, bob.User.ID), chat.ErrNotFound)
		wantErr(t, "RemoveMember(unknown room)", s.RemoveMember(f.ctx(), "r_nope", alice.User.ID), chat.ErrNotFound)
		rooms, err := s.RoomsFor(f.ctx(), bob.User.ID)
		wantErr(t, "RoomsFor(bob)", err, nil)
		if len(rooms) != 0 {
			t.Errorf("RoomsFor(removed bob): got %v, want []", roomIDs(rooms))
		}
		got, err := s.Members(f.ctx(), r.ID)
		wantErr(t, "Members", err, nil)
		if g, w := memberList(got), []string{"alice/owner"}; !slices.Equal(g, w) {
			t.Errorf("Members: got %v, want %v", g, w)
		}
		// Removed members can be added back.
		wantErr(t, "AddMember(bob again)", s.AddMember(f.ctx(), r.ID, bob.User.ID, chat.MemberMember), nil)
	}},
	{"DirectRooms", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob, carol := f.user("alice"), f.user("bob"), f.user("carol")
		d := f.room(chat.KindDirect, alice, bob) // key alice:bob
		key := alice.User.ID + ":" + bob.User.ID

		got, err := s.DirectRoom(f.ctx(), key)
		wantErr(t, "DirectRoom", err, nil)
		checkRoom(t, "DirectRoom", got, d)

		again := chat.Room{ID: chat.NewID("r_"), Name: "dup", Kind: chat.KindDirect, CreatedBy: bob.User.ID, CreatedAt: f.tick()}
		err = s.CreateRoom(f.ctx(), again, bob.User.ID, []string{alice.User.ID}, key)
		wantErr(t, "CreateRoom(same direct key)", err, chat.ErrConflict)
		_, err = s.Room(f.ctx(), again.ID)
		wantErr(t, "Room(rejected direct)", err, chat.ErrNotFound)

		_, err = s.DirectRoom(f.ctx(), alice.User.ID+":"+carol.User.ID)
		wantErr(t, "DirectRoom(no such pair)", err, chat.ErrNotFound)
		// Rooms of other kinds store no key, so an empty key finds nothing.
		f.room(chat.KindPublic, alice)
		_, err = s.DirectRoom(f.ctx(), "")
		wantErr(t, "DirectRoom(empty key)", err, chat.ErrNotFound)
		f.room(chat.KindDirect, alice, carol)
	}},
	{"LastSeqs", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r1, r2 := f.room(chat.KindPublic, alice), f.room(chat.KindPublic, alice)
		f.sendN(r1, alice, 3)
		got, err := s.LastSeqs(f.ctx(), []string{r1.ID, r2.ID, "r_nope"})
		wantErr(t, "LastSeqs", err, nil)
		if len(got) != 2 || got[r1.ID] != 3 || got[r2.ID] != 0 {
			t.Errorf("LastSeqs: got %v, want map[%s:3 %s:0]", got, r1.ID, r2.ID)
		}
		got, err = s.LastSeqs(f.ctx(), nil)
		wantErr(t, "LastSeqs(none)", err, nil)
		if len(got) != 0 {
			t.Errorf("LastSeqs(none): got %v, want empty", got)
		}
		room, err := s.Room(f.ctx(), r1.ID)
		wantErr(t, "Room", err, nil)
		if room.LastSeq != 3 {
			t.Errorf("Room.LastSeq: got %d, want 3", room.LastSeq)
		}
	}},
}
