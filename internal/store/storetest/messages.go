package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// asStored is what AppendMessage should return for in, sent by from with seq.
func asStored(in chat.Message, from chat.Account, seq int64) chat.Message {
	in.Seq = seq
	in.From = from.User
	return in
}

func checkLastSeq(t *testing.T, s Store, room chat.Room, want int64) {
	t.Helper()
	r, err := s.Room(t.Context(), room.ID)
	wantErr(t, "Room", err, nil)
	if r.LastSeq != want {
		t.Fatalf("Room(%s).LastSeq: got %d, want %d", room.ID, r.LastSeq, want)
	}
}

var messageTests = []storeTest{
	{"SeqStartsAtOneAndCountsUp", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob := f.user("alice"), f.user("bob")
		r := f.room(chat.KindPublic, alice, bob)
		other := f.room(chat.KindPublic, bob)
		for i, from := range []chat.Account{alice, bob, alice} {
			in := f.msg(r, from, "hi", "")
			got, created, err := s.AppendMessage(f.ctx(), in)
			wantErr(t, "AppendMessage", err, nil)
			if !created {
				t.Fatalf("AppendMessage #%d: got created=false, want true", i+1)
			}
			checkMessage(t, "AppendMessage result", got, asStored(in, from, int64(i+1)))
		}
		// Seq is per room.
		first := f.send(other, bob, "elsewhere", "")
		if first.Seq != 1 {
			t.Fatalf("first seq in second room: got %d, want 1", first.Seq)
		}
		checkLastSeq(t, s, r, 3)
		checkLastSeq(t, s, other, 1)
	}},
	{"AllFieldsRoundTrip", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		f.send(r, alice, "first", "")
		reply := int64(1)
		in := f.msg(r, alice, "with everything", "c-1")
		in.ReplyTo = &reply
		in.Meta = json.RawMessage(`{"model": "m1", "tokens": [1, 2]}`)
		in.CreatedAt = time.Date(2024, 3, 4, 5, 6, 7, 891011121, time.FixedZone("Y", -7*3600))
		got, _, err := s.AppendMessage(f.ctx(), in)
		wantErr(t, "AppendMessage", err, nil)
		want := asStored(in, alice, 2)
		checkMessage(t, "AppendMessage result", got, want)
		read, err := s.MessageBySeq(f.ctx(), r.ID, 2)
		wantErr(t, "MessageBySeq", err, nil)
		checkMessage(t, "MessageBySeq", read, want)
		byClient, err := s.MessageByClientID(f.ctx(), r.ID, alice.User.ID, "c-1")
		wantErr(t, "MessageByClientID", err, nil)
		checkMessage(t, "MessageByClientID", byClient, want)
		for _, miss := range []struct{ room, from, id string }{
			{r.ID, alice.User.ID, "c-2"}, {r.ID, "usr_other", "c-1"}, {"r_other", alice.User.ID, "c-1"},
		} {
			_, err := s.MessageByClientID(f.ctx(), miss.room, miss.from, miss.id)
			wantErr(t, "MessageByClientID(miss)", err, chat.ErrNotFound)
		}

		plain, err := s.MessageBySeq(f.ctx(), r.ID, 1)
		wantErr(t, "MessageBySeq(1)", err, nil)
		if plain.ReplyTo != nil || plain.Meta != nil || plain.EditedAt != nil || plain.ClientMsgID != "" || plain.Deleted {
			t.Fatalf("MessageBySeq(1): got %+v, want no ReplyTo, Meta, EditedAt, ClientMsgID, Deleted", plain)
		}
	}},
	{"DuplicateClientMsgIDReturnsOriginal", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		orig := f.send(r, alice, "once", "c-1")
		retry := f.msg(r, alice, "retried text", "c-1")
		got, created, err := s.AppendMessage(f.ctx(), retry)
		wantErr(t, "AppendMessage(retry)", err, nil)
		if created {
			t.Fatalf("AppendMessage(retry): got created=true, want false")
		}
		checkMessage(t, "AppendMessage(retry) result", got, orig)
		checkLastSeq(t, s, r, 1)
		page, _, err := s.Messages(f.ctx(), r.ID, chat.HistoryQuery{Limit: 10})
		wantErr(t, "Messages", err, nil)
		checkSeqs(t, "Messages after retry", page, []int64{1})
		_, err = s.MessageBySeq(f.ctx(), r.ID, 2)
		wantErr(t, "MessageBySeq(2)", err, chat.ErrNotFound)
	}},
	{"ClientMsgIDScopedToSenderAndRoom", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob := f.user("alice"), f.user("bob")
		r1, r2 := f.room(chat.KindPublic, alice), f.room(chat.KindPublic, alice)
		a := f.send(r1, alice, "alice in r1", "c-1")
		b := f.send(r1, bob, "bob in r1", "c-1")
		c := f.send(r2, alice, "alice in r2", "c-1")
		if a.Seq != 1 || b.Seq != 2 || c.Seq != 1 {
			t.Fatalf("seqs: got %d, %d, %d, want 1, 2, 1", a.Seq, b.Seq, c.Seq)
		}
		if b.ID == a.ID || c.ID == a.ID {
			t.Fatalf("ids: got %s, %s, %s, want three distinct", a.ID, b.ID, c.ID)
		}
	}},
	{"EmptyClientMsgIDNeverDeduplicated", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		f.send(r, alice, "same", "")
		f.send(r, alice, "same", "")
		checkLastSeq(t, s, r, 2)
	}},
	{"UnknownRoomNotFound", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		in := f.msg(chat.Room{ID: "r_nope"}, alice, "lost", "c-1")
		_, created, err := s.AppendMessage(f.ctx(), in)
		wantErr(t, "AppendMessage(unknown room)", err, chat.ErrNotFound)
		if created {
			t.Fatalf("AppendMessage(unknown room): got created=true, want false")
		}
	}},
	{"FailedAppendLeavesNoGap", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		f.send(r, alice, "one", "")
		// An unknown sender fails the insert after the seq was taken; the
		// seq must be given back.
		_, _, err := s.AppendMessage(f.ctx(), f.msg(r, chat.Account{User: chat.User{ID: "u_ghost"}}, "ghost", ""))
		if err == nil {
			t.Fatalf("AppendMessage(unknown sender): got nil error, want an error")
		}
		dupID := f.msg(r, alice, "dup id", "")
		first := f.send(r, alice, "two", "")
		dupID.ID = first.ID
		_, _, err = s.AppendMessage(f.ctx(), dupID)
		wantErr(t, "AppendMessage(duplicate message id)", err, chat.ErrConflict)
		checkLastSeq(t, s, r, 2)
		if got := f.send(r, alice, "three", ""); got.Seq != 3 {
			t.Fatalf("seq after failed appends: got %d, want 3", got.Seq)
		}
	}},
	{"DeletedAuthorStillShown", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob := f.user("alice"), f.user("bob")
		r := f.room(chat.KindPublic, alice, bob)
		sent := f.send(r, bob, "bye", "")
		wantErr(t, "DeleteAccount(bob)", s.DeleteAccount(f.ctx(), bob.User.ID), nil)
		got, err := s.MessageBySeq(f.ctx(), r.ID, sent.Seq)
		wantErr(t, "MessageBySeq", err, nil)
		if got.From != bob.User {
			t.Fatalf("From: got %+v, want %+v", got.From, bob.User)
		}
		page, _, err := s.Messages(f.ctx(), r.ID, chat.HistoryQuery{Limit: 5})
		wantErr(t, "Messages", err, nil)
		if len(page) != 1 || page[0].From != bob.User {
			t.Fatalf("Messages: got %+v, want one message from %+v", page, bob.User)
		}
	}},
	{"MessageBySeqNotFound", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		f.sendN(r, alice, 2)
		for _, tc := range []struct {
			room string
			seq  int64
		}{{r.ID, 0}, {r.ID, 3}, {"r_nope", 1}} {
			_, err := s.MessageBySeq(f.ctx(), tc.room, tc.seq)
			wantErr(t, "MessageBySeq", err, chat.ErrNotFound)
		}
	}},
	{"Edit", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		in := f.msg(r, alice, "draft", "c-1")
		in.Meta = json.RawMessage(`{"k":1}`)
		orig, _, err := s.AppendMessage(f.ctx(), in)
		wantErr(t, "AppendMessage", err, nil)
		at := f.tick().Add(555)
		got, err := s.EditMessage(f.ctx(), r.ID, orig.Seq, "final", at)
		wantErr(t, "EditMessage", err, nil)
		want := orig
		want.Text = "final"
		want.EditedAt = &at
		checkMessage(t, "EditMessage result", got, want)
		read, err := s.MessageBySeq(f.ctx(), r.ID, orig.Seq)
		wantErr(t, "MessageBySeq", err, nil)
		checkMessage(t, "MessageBySeq after edit", read, want)

		_, err = s.EditMessage(f.ctx(), r.ID, 99, "x", at)
		wantErr(t, "EditMessage(unknown seq)", err, chat.ErrNotFound)
		_, err = s.EditMessage(f.ctx(), "r_nope", 1, "x", at)
		wantErr(t, "EditMessage(unknown room)", err, chat.ErrNotFound)
	}},
	{"Delete", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		in := f.msg(r, alice, "secret", "c-1")
		in.Meta = json.RawMessage(`{"k":1}`)
		orig, _, err := s.AppendMessage(f.ctx(), in)
		wantErr(t, "AppendMessage", err, nil)
		at := f.tick()
		got, err := s.DeleteMessage(f.ctx(), r.ID, orig.Seq, at)
		wantErr(t, "DeleteMessage", err, nil)
		want := orig
		want.Text = ""
		want.Meta = nil
		want.Deleted = true
		want.EditedAt = &at
		checkMessage(t, "DeleteMessage result", got, want)
		read, err := s.MessageBySeq(f.ctx(), r.ID, orig.Seq)
		wantErr(t, "MessageBySeq", err, nil)
		checkMessage(t, "MessageBySeq after delete", read, want)

		_, err = s.DeleteMessage(f.ctx(), r.ID, orig.Seq, f.tick())
		wantErr(t, "DeleteMessage(again)", err, chat.ErrNotFound)
		_, err = s.EditMessage(f.ctx(), r.ID, orig.Seq, "resurrect", f.tick())
		wantErr(t, "EditMessage(deleted)", err, chat.ErrNotFound)
		_, err = s.DeleteMessage(f.ctx(), r.ID, 99, f.tick())
		wantErr(t, "DeleteMessage(unknown seq)", err, chat.ErrNotFound)
		read, _ = s.MessageBySeq(f.ctx(), r.ID, orig.Seq)
		checkMessage(t, "MessageBySeq after failed edit", read, want)

		// A late retry of the deleted send still finds it, not a new post.
		retry, created, err := s.AppendMessage(f.ctx(), f.msg(r, alice, "secret", "c-1"))
		wantErr(t, "AppendMessage(retry of deleted)", err, nil)
		if created {
			t.Fatalf("AppendMessage(retry of deleted): got created=true, want false")
		}
		checkMessage(t, "AppendMessage(retry of deleted) result", retry, want)
	}},
}
