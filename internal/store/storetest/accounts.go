package storetest

import (
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

var accountTests = []storeTest{
	{"CreateAndLookUp", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		a := chat.Account{
			User:         chat.User{ID: chat.NewID("u_"), Username: "bot1", DisplayName: "Bot One", Role: chat.RoleBot},
			CreatedBy:    "u_creator",
			PasswordHash: "",
			// A zone and nanoseconds the store must normalise away.
			CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 5*3600)),
		}
		wantErr(t, "CreateAccount", s.CreateAccount(f.ctx(), a), nil)

		got, err := s.Account(f.ctx(), a.User.ID)
		wantErr(t, "Account", err, nil)
		checkAccount(t, "Account", got, a)

		got, err = s.AccountByUsername(f.ctx(), "bot1")
		wantErr(t, "AccountByUsername", err, nil)
		checkAccount(t, "AccountByUsername", got, a)
	}},
	{"DuplicateUsernameConflicts", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		f.user("alice")
		dup := chat.Account{User: chat.User{ID: chat.NewID("u_"), Username: "alice", Role: chat.RoleUser}, CreatedAt: f.tick()}
		wantErr(t, "CreateAccount(duplicate username)", s.CreateAccount(f.ctx(), dup), chat.ErrConflict)
		_, err := s.Account(f.ctx(), dup.User.ID)
		wantErr(t, "Account(rejected duplicate)", err, chat.ErrNotFound)
	}},
	{"DuplicateIDConflicts", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		a := f.user("alice")
		dup := chat.Account{User: chat.User{ID: a.User.ID, Username: "other", Role: chat.RoleUser}, CreatedAt: f.tick()}
		wantErr(t, "CreateAccount(duplicate id)", s.CreateAccount(f.ctx(), dup), chat.ErrConflict)
	}},
	{"UnknownNotFound", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		f.user("alice")
		_, err := s.Account(f.ctx(), "u_nobody")
		wantErr(t, "Account(unknown)", err, chat.ErrNotFound)
		_, err = s.AccountByUsername(f.ctx(), "nobody")
		wantErr(t, "AccountByUsername(unknown)", err, chat.ErrNotFound)
		wantErr(t, "DeleteAccount(unknown)", s.DeleteAccount(f.ctx(), "u_nobody"), chat.ErrNotFound)
	}},
	{"DeletedAccountHiddenButUsernameTaken", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		a := f.user("alice")
		wantErr(t, "DeleteAccount", s.DeleteAccount(f.ctx(), a.User.ID), nil)
		_, err := s.Account(f.ctx(), a.User.ID)
		wantErr(t, "Account(deleted)", err, chat.ErrNotFound)
		_, err = s.AccountByUsername(f.ctx(), "alice")
		wantErr(t, "AccountByUsername(deleted)", err, chat.ErrNotFound)
		wantErr(t, "DeleteAccount(again)", s.DeleteAccount(f.ctx(), a.User.ID), chat.ErrNotFound)
		reuse := chat.Account{User: chat.User{ID: chat.NewID("u_"), Username: "alice", Role: chat.RoleUser}, CreatedAt: f.tick()}
		wantErr(t, "CreateAccount(deleted user's username)", s.CreateAccount(f.ctx(), reuse), chat.ErrConflict)
	}},
	{"UpsertAdminCreates", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		in := chat.Account{
			User:         chat.User{ID: chat.NewID("u_"), Username: "root", DisplayName: "Root", Role: chat.RoleUser},
			PasswordHash: "h1",
			CreatedAt:    f.tick(),
		}
		got, err := s.UpsertAdmin(f.ctx(), in)
		wantErr(t, "UpsertAdmin", err, nil)
		want := in
		want.User.Role = chat.RoleAdmin
		checkAccount(t, "UpsertAdmin result", got, want)
		stored, err := s.AccountByUsername(f.ctx(), "root")
		wantErr(t, "AccountByUsername", err, nil)
		checkAccount(t, "stored admin", stored, want)
	}},
	{"UpsertAdminUpdatesExisting", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		orig := f.user("root")
		in := chat.Account{
			User:         chat.User{ID: chat.NewID("u_"), Username: "root", DisplayName: "New Name", Role: chat.RoleUser},
			PasswordHash: "h2",
			CreatedAt:    f.tick(),
		}
		got, err := s.UpsertAdmin(f.ctx(), in)
		wantErr(t, "UpsertAdmin", err, nil)
		want := orig
		want.User.Role = chat.RoleAdmin
		want.PasswordHash = "h2"
		checkAccount(t, "UpsertAdmin result", got, want)
		stored, err := s.Account(f.ctx(), orig.User.ID)
		wantErr(t, "Account(original id)", err, nil)
		checkAccount(t, "stored admin", stored, want)
		_, err = s.Account(f.ctx(), in.User.ID)
		wantErr(t, "Account(unused new id)", err, chat.ErrNotFound)

		// Running it again (every hub start does) changes nothing more.
		got, err = s.UpsertAdmin(f.ctx(), in)
		wantErr(t, "UpsertAdmin(again)", err, nil)
		checkAccount(t, "UpsertAdmin(again) result", got, want)
	}},
	{"UpsertAdminRevivesDeleted", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		orig := f.user("root")
		wantErr(t, "DeleteAccount", s.DeleteAccount(f.ctx(), orig.User.ID), nil)
		in := chat.Account{User: chat.User{ID: chat.NewID("u_"), Username: "root"}, PasswordHash: "h3", CreatedAt: f.tick()}
		got, err := s.UpsertAdmin(f.ctx(), in)
		wantErr(t, "UpsertAdmin", err, nil)
		want := orig
		want.User.Role = chat.RoleAdmin
		want.PasswordHash = "h3"
		checkAccount(t, "UpsertAdmin result", got, want)
		_, err = s.Account(f.ctx(), orig.User.ID)
		wantErr(t, "Account(revived)", err, nil)
	}},
}
