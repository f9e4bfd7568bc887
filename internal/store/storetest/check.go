package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// wantErr fails the test unless err matches want (nil meaning success).
// Sentinels are matched with errors.Is because stores wrap them.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: got error %v, want nil", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// diff collects field mismatches so one failure lists all of them.
type diff []string

func (d *diff) add(field string, got, want any) {
	*d = append(*d, fmt.Sprintf("%s: got %v, want %v", field, got, want))
}

func (d *diff) time(field string, got, want time.Time) {
	if !got.Equal(want) {
		d.add(field, got, want)
	}
	if got.Location() != time.UTC {
		d.add(field+" location", got.Location(), time.UTC)
	}
}

func (d diff) report(t *testing.T, what string) {
	t.Helper()
	if len(d) > 0 {
		t.Fatalf("%s:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

// stored is how a store returns a time it was given: UTC, microseconds.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func checkAccount(t *testing.T, what string, got, want chat.Account) {
	t.Helper()
	var d diff
	if got.User != want.User {
		d.add("User", got.User, want.User)
	}
	if got.PasswordHash != want.PasswordHash {
		d.add("PasswordHash", got.PasswordHash, want.PasswordHash)
	}
	if got.CreatedBy != want.CreatedBy {
		d.add("CreatedBy", got.CreatedBy, want.CreatedBy)
	}
	d.time("CreatedAt", got.CreatedAt, stored(want.CreatedAt))
	d.report(t, what)
}

func checkRoom(t *testing.T, what string, got, want chat.Room) {
	t.Helper()
	var d diff
	if got.ID != want.ID {
		d.add("ID", got.ID, want.ID)
	}
	if got.Name != want.Name {
		d.add("Name", got.Name, want.Name)
	}
	if got.Kind != want.Kind {
		d.add("Kind", got.Kind, want.Kind)
	}
	if got.CreatedBy != want.CreatedBy {
		d.add("CreatedBy", got.CreatedBy, want.CreatedBy)
	}
	d.time("CreatedAt", got.CreatedAt, stored(want.CreatedAt))
	if got.LastSeq != want.LastSeq {
		d.add("LastSeq", got.LastSeq, want.LastSeq)
	}
	if !reflect.DeepEqual(got.AI, want.AI) {
		d.add("AI", fmt.Sprintf("%+v", got.AI), fmt.Sprintf("%+v", want.AI))
	}
	d.report(t, what)
}

func checkMessage(t *testing.T, what string, got, want chat.Message) {
	t.Helper()
	var d diff
	if got.ID != want.ID {
		d.add("ID", got.ID, want.ID)
	}
	if got.Room != want.Room {
		d.add("Room", got.Room, want.Room)
	}
	if got.Seq != want.Seq {
		d.add("Seq", got.Seq, want.Seq)
	}
	if got.From != want.From {
		d.add("From", got.From, want.From)
	}
	if got.Text != want.Text {
		d.add("Text", fmt.Sprintf("%q", got.Text), fmt.Sprintf("%q", want.Text))
	}
	if got.ClientMsgID != want.ClientMsgID {
		d.add("ClientMsgID", got.ClientMsgID, want.ClientMsgID)
	}
	if (got.ReplyTo == nil) != (want.ReplyTo == nil) || (got.ReplyTo != nil && *got.ReplyTo != *want.ReplyTo) {
		d.add("ReplyTo", ptr(got.ReplyTo), ptr(want.ReplyTo))
	}
	d.time("CreatedAt", got.CreatedAt, stored(want.CreatedAt))
	switch {
	case (got.EditedAt == nil) != (want.EditedAt == nil):
		d.add("EditedAt", ptr(got.EditedAt), ptr(want.EditedAt))
	case got.EditedAt != nil:
		d.time("EditedAt", *got.EditedAt, stored(*want.EditedAt))
	}
	if got.Deleted != want.Deleted {
		d.add("Deleted", got.Deleted, want.Deleted)
	}
	if !bytes.Equal(got.Meta, want.Meta) {
		d.add("Meta", string(got.Meta), string(want.Meta))
	}
	d.report(t, what)
}

func ptr[T any](p *T) any {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func seqs(ms []chat.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func checkSeqs(t *testing.T, what string, got []chat.Message, want []int64) {
	t.Helper()
	if g := seqs(got); !slices.Equal(g, want) {
		t.Fatalf("%s: got seqs %v, want %v", what, g, want)
	}
}
