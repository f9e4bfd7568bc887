package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// CallStore is the call part of a store: one row per call, changed under
// an optimistic version so that hubs racing on one call never both win.
type CallStore interface {
	// CreateCall stores c (every field but Version set by the caller) with
	// Version 1 and returns it as stored. chat.ErrConflict if the room
	// already has a live (not ended) call, across hubs too, or the ID
	// exists; chat.ErrNotFound if the room does not exist.
	CreateCall(ctx context.Context, c chat.CallRecord) (chat.CallRecord, error)
	// LiveCall returns the room's live call; chat.ErrNotFound if none.
	LiveCall(ctx context.Context, roomID string) (chat.CallRecord, error)
	// CallByID returns a call, ended ones included; chat.ErrNotFound if none.
	CallByID(ctx context.Context, id string) (chat.CallRecord, error)
	// UpdateCall stores c's State, SFUNode, EndedAt, EndedReason,
	// RingUntil, Invited and Participants if the stored version is expect,
	// and returns the call as stored with Version expect+1.
	// chat.ErrCallChanged if the version differs (nothing is stored);
	// chat.ErrNotFound if there is no such call; chat.ErrConflict if it
	// would make a second live call in the room.
	UpdateCall(ctx context.Context, c chat.CallRecord, expect int64) (chat.CallRecord, error)
	// LiveCalls returns every live call, oldest first.
	LiveCalls(ctx context.Context) ([]chat.CallRecord, error)
}

// call builds a new live call record in room started by from.
func (f *fixture) call(room chat.Room, from chat.Account, state chat.CallState) chat.CallRecord {
	started := f.tick()
	return chat.CallRecord{
		ID:        chat.NewID("c_"),
		Room:      room.ID,
		Kind:      chat.CallVideo,
		State:     state,
		SFUNode:   "sfu-1",
		StartedBy: from.User.ID,
		StartedAt: started,
		RingUntil: started.Add(30 * time.Second),
		Invited:   []string{},
	}
}

func (f *fixture) createCall(c chat.CallRecord) chat.CallRecord {
	f.t.Helper()
	got, err := f.s.CreateCall(f.ctx(), c)
	if err != nil {
		f.t.Fatalf("CreateCall(%s): got error %v, want nil", c.ID, err)
	}
	return got
}

func member(a chat.Account, conn, hub string, at time.Time) chat.CallMember {
	return chat.CallMember{User: a.User, Conn: conn, Hub: hub, JoinedAt: at}
}

func checkCall(t *testing.T, what string, got, want chat.CallRecord) {
	t.Helper()
	var d diff
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"ID", got.ID, want.ID},
		{"Room", got.Room, want.Room},
		{"Kind", got.Kind, want.Kind},
		{"State", got.State, want.State},
		{"SFUNode", got.SFUNode, want.SFUNode},
		{"StartedBy", got.StartedBy, want.StartedBy},
		{"EndedReason", got.EndedReason, want.EndedReason},
		{"Version", got.Version, want.Version},
	} {
		if f.got != f.want {
			d.add(f.name, f.got, f.want)
		}
	}
	d.time("StartedAt", got.StartedAt, stored(want.StartedAt))
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{{"EndedAt", got.EndedAt, want.EndedAt}, {"RingUntil", got.RingUntil, want.RingUntil}} {
		switch {
		case tm.got.IsZero() != tm.want.IsZero():
			d.add(tm.name, tm.got, tm.want)
		case !tm.want.IsZero():
			d.time(tm.name, tm.got, stored(tm.want))
		}
	}
	wantInv := want.Invited
	if wantInv == nil {
		wantInv = []string{}
	}
	if !reflect.DeepEqual(got.Invited, wantInv) {
		d.add("Invited", got.Invited, wantInv)
	}
	if len(got.Participants) != len(want.Participants) {
		d.add("Participants", got.Participants, want.Participants)
	} else {
		for i, m := range want.Participants {
			g := got.Participants[i]
			if g.User != m.User || g.Conn != m.Conn || g.Hub != m.Hub {
				d.add(fmt.Sprintf("Participants[%d]", i), g, m)
			}
			d.time(fmt.Sprintf("Participants[%d].JoinedAt", i), g.JoinedAt, stored(m.JoinedAt))
		}
	}
	d.report(t, what)
}

var callTests = []storeTest{
	{"CreateAndRead", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob := f.user("alice"), f.user("bob")
		r := f.room(chat.KindDirect, alice, bob)
		c := f.call(r, alice, chat.CallRinging)
		c.Invited = []string{bob.User.ID}
		got := f.createCall(c)
		want := c
		want.Version = 1
		checkCall(t, "CreateCall", got, want)

		byID, err := s.CallByID(f.ctx(), c.ID)
		wantErr(t, "CallByID", err, nil)
		checkCall(t, "CallByID", byID, want)
		live, err := s.LiveCall(f.ctx(), r.ID)
		wantErr(t, "LiveCall", err, nil)
		checkCall(t, "LiveCall", live, want)
		if byID.Participants == nil {
			t.Fatalf("CallByID Participants: got nil, want an empty slice")
		}
	}},
	{"NotFound", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		_, err := s.CallByID(f.ctx(), "c_missing")
		wantErr(t, "CallByID(missing)", err, chat.ErrNotFound)
		_, err = s.LiveCall(f.ctx(), r.ID)
		wantErr(t, "LiveCall(no call)", err, chat.ErrNotFound)
		_, err = s.UpdateCall(f.ctx(), f.call(r, alice, chat.CallActive), 1)
		wantErr(t, "UpdateCall(missing)", err, chat.ErrNotFound)
		c := f.call(r, alice, chat.CallActive)
		c.Room = "r_missing"
		_, err = s.CreateCall(f.ctx(), c)
		wantErr(t, "CreateCall(missing room)", err, chat.ErrNotFound)
	}},
	{"OneLiveCallPerRoom", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r, other := f.room(chat.KindPublic, alice), f.room(chat.KindPublic, alice)
		first := f.createCall(f.call(r, alice, chat.CallActive))
		_, err := s.CreateCall(f.ctx(), f.call(r, alice, chat.CallRinging))
		wantErr(t, "CreateCall(second live call)", err, chat.ErrConflict)
		_, err = s.CreateCall(f.ctx(), func() chat.CallRecord { c := f.call(other, alice, chat.CallActive); c.ID = first.ID; return c }())
		wantErr(t, "CreateCall(same ID)", err, chat.ErrConflict)
		f.createCall(f.call(other, alice, chat.CallActive))
		live, err := s.LiveCall(f.ctx(), r.ID)
		wantErr(t, "LiveCall", err, nil)
		if live.ID != first.ID {
			t.Fatalf("LiveCall: got %s, want %s", live.ID, first.ID)
		}
	}},
	{"ConcurrentCreatesOneWins", func(t *testing.T, s Store) {
		const workers = 8
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		calls := make([]chat.CallRecord, workers)
		for i := range calls {
			calls[i] = f.call(r, alice, chat.CallActive)
		}
		errs := race(workers, func(i int) error { _, err := s.CreateCall(t.Context(), calls[i]); return err })
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, chat.ErrConflict):
				t.Errorf("CreateCall #%d: got error %v, want nil or chat.ErrConflict", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("concurrent CreateCall: got %d successes, want 1", wins)
		}
	}},
	{"UpdateBumpsVersion", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob := f.user("alice"), f.user("bob")
		r := f.room(chat.KindDirect, alice, bob)
		c := f.createCall(f.call(r, alice, chat.CallRinging))

		next := c
		next.State = chat.CallActive
		next.RingUntil = time.Time{}
		next.SFUNode = "sfu-2"
		next.Invited = []string{bob.User.ID}
		next.Participants = []chat.CallMember{
			member(alice, "conn_a", "hub-1", f.tick()),
			member(bob, "conn_b", "hub-2", f.tick()),
		}
		got, err := s.UpdateCall(f.ctx(), next, c.Version)
		wantErr(t, "UpdateCall", err, nil)
		want := next
		want.Version = 2
		checkCall(t, "UpdateCall", got, want)
		read, err := s.CallByID(f.ctx(), c.ID)
		wantErr(t, "CallByID", err, nil)
		checkCall(t, "CallByID after update", read, want)

		// An update from the old version is refused and stores nothing.
		stale := c
		stale.State = chat.CallEnded
		_, err = s.UpdateCall(f.ctx(), stale, c.Version)
		wantErr(t, "UpdateCall(stale version)", err, chat.ErrCallChanged)
		read, err = s.CallByID(f.ctx(), c.ID)
		wantErr(t, "CallByID", err, nil)
		checkCall(t, "CallByID after stale update", read, want)
	}},
	{"ConcurrentUpdatesOneWins", func(t *testing.T, s Store) {
		const workers = 8
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		c := f.createCall(f.call(r, alice, chat.CallActive))
		at := f.tick()
		errs := race(workers, func(i int) error {
			next := c
			next.Participants = []chat.CallMember{member(alice, fmt.Sprintf("conn_%d", i), "hub-1", at)}
			_, err := s.UpdateCall(t.Context(), next, c.Version)
			return err
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("UpdateCall #%d and #%d both succeeded at version %d, want exactly one", winner, i, c.Version)
				}
				winner = i
			case !errors.Is(err, chat.ErrCallChanged):
				t.Errorf("UpdateCall #%d: got error %v, want nil or chat.ErrCallChanged", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("concurrent UpdateCall: got no success, want exactly one")
		}
		got, err := s.CallByID(f.ctx(), c.ID)
		wantErr(t, "CallByID", err, nil)
		if got.Version != 2 || len(got.Participants) != 1 || got.Participants[0].Conn != fmt.Sprintf("conn_%d", winner) {
			t.Fatalf("after the race: got version %d participants %+v, want version 2 with conn_%d", got.Version, got.Participants, winner)
		}
	}},
	{"EndedCallFreesRoom", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		c := f.createCall(f.call(r, alice, chat.CallActive))
		end := c
		end.State, end.EndedAt, end.EndedReason, end.RingUntil = chat.CallEnded, f.tick(), chat.CallEndEnded, time.Time{}
		ended, err := s.UpdateCall(f.ctx(), end, c.Version)
		wantErr(t, "UpdateCall(end)", err, nil)
		want := end
		want.Version = 2
		checkCall(t, "ended call", ended, want)

		_, err = s.LiveCall(f.ctx(), r.ID)
		wantErr(t, "LiveCall after end", err, chat.ErrNotFound)
		second := f.createCall(f.call(r, alice, chat.CallActive))
		live, err := s.LiveCall(f.ctx(), r.ID)
		wantErr(t, "LiveCall", err, nil)
		if live.ID != second.ID {
			t.Fatalf("LiveCall: got %s, want the new call %s", live.ID, second.ID)
		}
		// The ended call is still readable, and cannot come back to life
		// beside the new one.
		old, err := s.CallByID(f.ctx(), c.ID)
		wantErr(t, "CallByID(ended)", err, nil)
		checkCall(t, "CallByID(ended)", old, want)
		revive := old
		revive.State = chat.CallActive
		_, err = s.UpdateCall(f.ctx(), revive, old.Version)
		wantErr(t, "UpdateCall(revive beside a live call)", err, chat.ErrConflict)
	}},
	{"LiveCalls", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		rooms := []chat.Room{f.room(chat.KindPublic, alice), f.room(chat.KindPublic, alice), f.room(chat.KindPublic, alice)}
		none, err := s.LiveCalls(f.ctx())
		wantErr(t, "LiveCalls(empty)", err, nil)
		if none == nil || len(none) != 0 {
			t.Fatalf("LiveCalls(empty): got %#v, want an empty slice", none)
		}
		var created []chat.CallRecord
		for _, r := range rooms {
			created = append(created, f.createCall(f.call(r, alice, chat.CallActive)))
		}
		end := created[1]
		end.State, end.EndedAt, end.EndedReason = chat.CallEnded, f.tick(), chat.CallEndSFULost
		if _, err := s.UpdateCall(f.ctx(), end, end.Version); err != nil {
			t.Fatalf("UpdateCall(end): got error %v, want nil", err)
		}
		got, err := s.LiveCalls(f.ctx())
		wantErr(t, "LiveCalls", err, nil)
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if want := []string{created[0].ID, created[2].ID}; !reflect.DeepEqual(ids, want) {
			t.Fatalf("LiveCalls: got %v, want %v (oldest first, ended left out)", ids, want)
		}
		checkCall(t, "LiveCalls[0]", got[0], created[0])
	}},
}

// race runs fn(0..n-1) at once, as close together as goroutines allow,
// and returns their errors by index.
func race(n int, fn func(i int) error) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}
