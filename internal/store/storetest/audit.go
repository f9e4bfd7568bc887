package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

var auditTests = []storeTest{
	{"AppendAndRead", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		in := chat.AuditEntry{
			// A zone and nanoseconds the store must normalise away.
			At:     time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 5*3600)),
			Actor:  &chat.User{ID: alice.User.ID}, // the store fills in the rest
			Action: chat.AuditRoomCreate,
			Target: "r_1",
			IP:     "192.0.2.7",
			Detail: json.RawMessage(`{"name":"general","kind":"public"}`),
		}
		got, err := s.AppendAudit(f.ctx(), in)
		wantErr(t, "AppendAudit", err, nil)
		if got.ID == "" {
			t.Fatalf("AppendAudit: got an empty ID, want one assigned by the store")
		}
		want := in
		want.ID = got.ID
		want.Actor = &alice.User
		checkAudit(t, "AppendAudit result", got, want)

		list, err := s.AuditEntries(f.ctx(), "", 10)
		wantErr(t, "AuditEntries", err, nil)
		if len(list) != 1 {
			t.Fatalf("AuditEntries: got %d entries, want 1", len(list))
		}
		checkAudit(t, "AuditEntries[0]", list[0], want)
	}},
	{"NewestFirst", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		appended := f.audits(5)
		list, err := s.AuditEntries(f.ctx(), "", 10)
		wantErr(t, "AuditEntries", err, nil)
		checkAuditOrder(t, "AuditEntries", list, reversed(appended))
	}},
	{"PagingWithBefore", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		want := reversed(f.audits(7))
		var got []chat.AuditEntry
		var pages []int
		before := ""
		for range 10 {
			page, err := s.AuditEntries(f.ctx(), before, 3)
			wantErr(t, fmt.Sprintf("AuditEntries(before=%q, 3)", before), err, nil)
			pages = append(pages, len(page))
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			before = page[len(page)-1].ID
		}
		if !slices.Equal(pages, []int{3, 3, 1, 0}) {
			t.Fatalf("page sizes with limit 3 over 7 entries: got %v, want [3 3 1 0]", pages)
		}
		checkAuditOrder(t, "pages joined", got, want)
		for i, e := range want {
			checkAudit(t, fmt.Sprintf("entry %d", i), got[i], e)
		}
		// One entry at a time gives the same list.
		got, before = nil, ""
		for range len(want) + 1 {
			page, err := s.AuditEntries(f.ctx(), before, 1)
			wantErr(t, "AuditEntries(limit 1)", err, nil)
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			before = page[0].ID
		}
		checkAuditOrder(t, "pages of one joined", got, want)
	}},
	{"Limit", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		want := reversed(f.audits(5))
		for _, tc := range []struct {
			limit int
			want  []chat.AuditEntry
		}{
			{1, want[:1]},
			{2, want[:2]},
			{5, want},
			{100, want},
		} {
			got, err := s.AuditEntries(f.ctx(), "", tc.limit)
			wantErr(t, fmt.Sprintf("AuditEntries(limit %d)", tc.limit), err, nil)
			checkAuditOrder(t, fmt.Sprintf("AuditEntries(limit %d)", tc.limit), got, tc.want)
		}
		for _, limit := range []int{0, -1} {
			if _, err := s.AuditEntries(f.ctx(), "", limit); err == nil {
				t.Errorf("AuditEntries(limit %d): got nil error, want one", limit)
			}
		}
	}},
	{"EmptyLog", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		got, err := s.AuditEntries(f.ctx(), "", 50)
		wantErr(t, "AuditEntries on an empty log", err, nil)
		if len(got) != 0 {
			t.Fatalf("AuditEntries on an empty log: got %d entries, want 0", len(got))
		}
	}},
	{"ActorNullVsSet", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice := f.user("alice")
		bot := f.account("helper", chat.RoleBot)
		wantErr(t, "DeleteAccount(bot)", s.DeleteAccount(f.ctx(), bot.User.ID), nil)
		ghost := "usr_ghost_never_stored"
		tests := []struct {
			name  string
			actor *chat.User
			want  *chat.User
		}{
			{"nil", nil, nil},
			{"empty id", &chat.User{}, nil},
			{"live account", &chat.User{ID: alice.User.ID}, &alice.User},
			{"stale fields are not stored", &chat.User{ID: alice.User.ID, DisplayName: "Old Name", Role: chat.RoleAdmin}, &alice.User},
			{"deleted account", &chat.User{ID: bot.User.ID}, &bot.User},
			{"no account row", &chat.User{ID: ghost, Username: "ghost"}, &chat.User{ID: ghost}},
		}
		for _, tt := range tests {
			e := chat.AuditEntry{At: f.tick(), Actor: tt.actor, Action: chat.AuditLogin, Target: tt.name}
			got, err := s.AppendAudit(f.ctx(), e)
			wantErr(t, "AppendAudit("+tt.name+")", err, nil)
			e.ID, e.Actor = got.ID, tt.want
			checkAudit(t, "AppendAudit("+tt.name+")", got, e)
			list, err := s.AuditEntries(f.ctx(), "", 1)
			wantErr(t, "AuditEntries", err, nil)
			if len(list) != 1 {
				t.Fatalf("AuditEntries after %s: got %d entries, want 1", tt.name, len(list))
			}
			checkAudit(t, "AuditEntries after "+tt.name, list[0], e)
		}
	}},
	{"DetailRoundTrip", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		kept := []struct{ in, want string }{
			{"", `{}`},
			{`{}`, `{}`},
			{`{"user_id":"usr_1"}`, `{"user_id":"usr_1"}`},
			// Key order, spacing, escapes and non-ASCII come back as given.
			{`{ "b" : 1, "a": [true, null, 2.50], "s": "\u00e9 é \"q\"", "o": {"n": {}} }`,
				`{ "b" : 1, "a": [true, null, 2.50], "s": "\u00e9 é \"q\"", "o": {"n": {}} }`},
		}
		for _, tc := range kept {
			e := chat.AuditEntry{At: f.tick(), Action: chat.AuditRoomCreate, Detail: json.RawMessage(tc.in)}
			got, err := s.AppendAudit(f.ctx(), e)
			wantErr(t, fmt.Sprintf("AppendAudit(detail %q)", tc.in), err, nil)
			if string(got.Detail) != tc.want {
				t.Errorf("AppendAudit(detail %q): got detail %q, want %q", tc.in, got.Detail, tc.want)
			}
			list, err := s.AuditEntries(f.ctx(), "", 1)
			wantErr(t, "AuditEntries", err, nil)
			if len(list) != 1 || string(list[0].Detail) != tc.want {
				t.Errorf("AuditEntries after detail %q: got %+v, want one entry with detail %q", tc.in, list, tc.want)
			}
		}
		before, err := s.AuditEntries(f.ctx(), "", 100)
		wantErr(t, "AuditEntries", err, nil)
		for _, bad := range []string{`[1]`, `"x"`, `null`, `1`, `true`, `{`, `{"a":1} {"b":2}`, `{"a":}`} {
			_, err := s.AppendAudit(f.ctx(), chat.AuditEntry{At: f.tick(), Action: chat.AuditRoomCreate, Detail: json.RawMessage(bad)})
			wantErr(t, fmt.Sprintf("AppendAudit(detail %q)", bad), err, chat.ErrAuditDetail)
		}
		after, err := s.AuditEntries(f.ctx(), "", 100)
		wantErr(t, "AuditEntries", err, nil)
		if len(after) != len(before) {
			t.Fatalf("entries after refused details: got %d, want %d (nothing stored)", len(after), len(before))
		}
	}},
	{"MalformedBeforeIsBadRequest", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		f.audits(2)
		for _, before := range []string{"abc", " 1", "1 ", "0", "-1", "+1", "01", "1.5", "1e3", "0x10",
			"99999999999999999999", "r_06h30xekat3zz6xk9qgnzfhj0c"} {
			_, err := s.AuditEntries(f.ctx(), before, 10)
			var ce *chat.Error
			if !errors.As(err, &ce) || ce.Code != chat.CodeBadRequest || !strings.Contains(ce.Message, "before") {
				t.Errorf("AuditEntries(before=%q): got error %v, want a bad_request naming \"before\"", before, err)
			}
		}
	}},
	{"UnknownBeforeIsABound", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		want := reversed(f.audits(3))
		got, err := s.AuditEntries(f.ctx(), "9223372036854775807", 10)
		wantErr(t, "AuditEntries(before the largest id)", err, nil)
		checkAuditOrder(t, "AuditEntries(before the largest id)", got, want)
		got, err = s.AuditEntries(f.ctx(), want[len(want)-1].ID, 10)
		wantErr(t, "AuditEntries(before the oldest)", err, nil)
		if len(got) != 0 {
			t.Fatalf("AuditEntries(before the oldest): got %d entries, want 0", len(got))
		}
	}},
	{"ZeroAtIsNow", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		from := chat.Now()
		got, err := s.AppendAudit(f.ctx(), chat.AuditEntry{Action: chat.AuditGuest})
		to := chat.Now()
		wantErr(t, "AppendAudit(zero At)", err, nil)
		if got.At.Before(from) || got.At.After(to) || got.At.Location() != time.UTC {
			t.Fatalf("At of an entry appended with zero At: got %v, want UTC between %v and %v", got.At, from, to)
		}
		if string(got.Detail) != `{}` || got.Actor != nil {
			t.Fatalf("bare entry: got detail %q actor %+v, want {} and nil", got.Detail, got.Actor)
		}
	}},
	{"ConcurrentAppendsKeepOrder", func(t *testing.T, s Store) {
		const workers, each = 8, 25
		f := newFixture(t, s)
		var wg sync.WaitGroup
		ctx := t.Context()
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					e := chat.AuditEntry{At: chat.Now(), Action: chat.AuditLogin, Target: fmt.Sprintf("w%d-%03d", w, i)}
					if _, err := s.AppendAudit(ctx, e); err != nil {
						t.Errorf("AppendAudit(%s): got error %v, want nil", e.Target, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		all, err := s.AuditEntries(f.ctx(), "", workers*each)
		wantErr(t, "AuditEntries", err, nil)
		if len(all) != workers*each {
			t.Fatalf("AuditEntries: got %d entries, want %d", len(all), workers*each)
		}
		// Each worker appended one after another, so newest first its
		// targets must come in descending order.
		last := map[string]string{}
		ids := map[string]bool{}
		for _, e := range all {
			if ids[e.ID] {
				t.Fatalf("id %s appears twice", e.ID)
			}
			ids[e.ID] = true
			w, _, _ := strings.Cut(e.Target, "-")
			if prev, ok := last[w]; ok && e.Target >= prev {
				t.Fatalf("newest first, %s comes after %s: a later append sorts as older", e.Target, prev)
			}
			last[w] = e.Target
		}
		// Paging gives exactly the same list.
		var paged []chat.AuditEntry
		before := ""
		for {
			page, err := s.AuditEntries(f.ctx(), before, 7)
			wantErr(t, "AuditEntries(limit 7)", err, nil)
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			before = page[len(page)-1].ID
		}
		checkAuditOrder(t, "pages of 7 joined", paged, all)
	}},
}

// audits appends n entries with distinct targets t1..tn in that order and
// returns them as stored.
func (f *fixture) audits(n int) []chat.AuditEntry {
	f.t.Helper()
	out := make([]chat.AuditEntry, n)
	for i := range out {
		e := chat.AuditEntry{
			At: f.tick(), Action: chat.AuditRoomMemberAdd, Target: fmt.Sprintf("t%d", i+1), IP: "198.51.100.1",
			Detail: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i+1)),
		}
		got, err := f.s.AppendAudit(f.ctx(), e)
		if err != nil {
			f.t.Fatalf("AppendAudit(%s): got error %v, want nil", e.Target, err)
		}
		out[i] = got
	}
	return out
}

func reversed(es []chat.AuditEntry) []chat.AuditEntry {
	out := slices.Clone(es)
	slices.Reverse(out)
	return out
}

func auditIDs(es []chat.AuditEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID + "(" + e.Target + ")"
	}
	return out
}

// checkAuditOrder compares two lists by ID, in order.
func checkAuditOrder(t *testing.T, what string, got, want []chat.AuditEntry) {
	t.Helper()
	if g, w := auditIDs(got), auditIDs(want); !slices.Equal(g, w) {
		t.Fatalf("%s: got ids %v, want %v", what, g, w)
	}
}

func checkAudit(t *testing.T, what string, got, want chat.AuditEntry) {
	t.Helper()
	var d diff
	if got.ID != want.ID {
		d.add("ID", got.ID, want.ID)
	}
	d.time("At", got.At, stored(want.At))
	switch {
	case (got.Actor == nil) != (want.Actor == nil):
		d.add("Actor", ptr(got.Actor), ptr(want.Actor))
	case got.Actor != nil && *got.Actor != *want.Actor:
		d.add("Actor", *got.Actor, *want.Actor)
	}
	if got.Action != want.Action {
		d.add("Action", got.Action, want.Action)
	}
	if got.Target != want.Target {
		d.add("Target", got.Target, want.Target)
	}
	if got.IP != want.IP {
		d.add("IP", got.IP, want.IP)
	}
	wantDetail := string(want.Detail)
	if wantDetail == "" {
		wantDetail = "{}"
	}
	if string(got.Detail) != wantDetail {
		d.add("Detail", string(got.Detail), wantDetail)
	}
	d.report(t, what)
}
