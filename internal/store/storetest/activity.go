package storetest

import (
	"slices"
	"testing"

	"github.com/pawfect/hub/internal/chat"
)

var activityTests = []storeTest{
	{"ActiveRoomsAndCounts", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		old := f.room(chat.KindPublic, alice)
		busy := f.room(chat.KindPublic, alice)
		quiet := f.room(chat.KindPrivate, alice) // no messages at all
		f.sendN(old, alice, 2)
		cut := f.tick() // messages below are "recent"
		first := f.sendN(busy, alice, 3)
		countFrom := f.tick()
		f.sendN(busy, alice, 2)

		got, err := s.ActiveRooms(f.ctx(), cut, countFrom)
		wantErr(t, "ActiveRooms", err, nil)
		if len(got) != 1 || got[0].Room.ID != busy.ID {
			t.Fatalf("ActiveRooms: got %v, want only the busy room %s", activityRoomIDs(got), busy.ID)
		}
		if got[0].MessagesSince != 2 {
			t.Errorf("ActiveRooms count: got %d, want 2", got[0].MessagesSince)
		}
		if got[0].Room.LastSeq != 5 || got[0].Room.Name != busy.Name {
			t.Errorf("ActiveRooms room: got %+v, want last_seq 5 and name %q", got[0].Room, busy.Name)
		}

		// Everything since the start: both rooms with messages, by ID.
		got, err = s.ActiveRooms(f.ctx(), first[0].CreatedAt.AddDate(-1, 0, 0), cut)
		wantErr(t, "ActiveRooms", err, nil)
		want := []string{old.ID, busy.ID}
		slices.Sort(want)
		if ids := activityRoomIDs(got); !slices.Equal(ids, want) {
			t.Fatalf("ActiveRooms: got %v, want %v (never the room without messages, %s)", ids, want, quiet.ID)
		}

		tests := []struct {
			room  string
			since chat.Message
			want  int64
		}{
			{busy.ID, first[0], 5},
			{busy.ID, first[2], 3},
			{old.ID, first[0], 0},
			{quiet.ID, first[0], 0},
		}
		for _, tt := range tests {
			a, err := s.RoomActivity(f.ctx(), tt.room, tt.since.CreatedAt)
			wantErr(t, "RoomActivity", err, nil)
			if a.Room.ID != tt.room || a.MessagesSince != tt.want {
				t.Errorf("RoomActivity(%s, seq %d's time): got room %s with %d, want %d", tt.room, tt.since.Seq, a.Room.ID, a.MessagesSince, tt.want)
			}
		}
		if a, err := s.RoomActivity(f.ctx(), busy.ID, first[0].CreatedAt); err == nil && a.Room.LastSeq != 5 {
			t.Errorf("RoomActivity last_seq: got %d, want 5", a.Room.LastSeq)
		}
		_, err = s.RoomActivity(f.ctx(), "no-such-room", first[0].CreatedAt)
		wantErr(t, "RoomActivity(unknown room)", err, chat.ErrNotFound)
	}},
	{"ActiveRoomsEmpty", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		got, err := s.ActiveRooms(f.ctx(), f.tick(), f.tick())
		wantErr(t, "ActiveRooms", err, nil)
		if got == nil || len(got) != 0 {
			t.Fatalf("ActiveRooms on an empty store: got %#v, want an empty, non-nil slice", got)
		}
	}},
}

func activityRoomIDs(as []chat.RoomActivity) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Room.ID
	}
	return out
}
