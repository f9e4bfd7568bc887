package storetest

import (
	"fmt"
	"testing"

	"github.com/pawfect/hub/internal/chat"
)

// historyCases run against a room holding seqs 1..10.
var historyCases = []struct {
	q        chat.HistoryQuery
	want     []int64
	wantMore bool
}{
	// No bound: the latest Limit; more = older exist.
	{chat.HistoryQuery{Limit: 3}, seqRange(8, 10), true},
	{chat.HistoryQuery{Limit: 9}, seqRange(2, 10), true},
	{chat.HistoryQuery{Limit: 10}, seqRange(1, 10), false},
	{chat.HistoryQuery{Limit: 50}, seqRange(1, 10), false},
	// BeforeSeq: the latest Limit below it; more = older exist.
	{chat.HistoryQuery{BeforeSeq: 5, Limit: 3}, seqRange(2, 4), true},
	{chat.HistoryQuery{BeforeSeq: 4, Limit: 3}, seqRange(1, 3), false},
	{chat.HistoryQuery{BeforeSeq: 3, Limit: 5}, seqRange(1, 2), false},
	{chat.HistoryQuery{BeforeSeq: 1, Limit: 5}, []int64{}, false},
	{chat.HistoryQuery{BeforeSeq: 100, Limit: 2}, seqRange(9, 10), true},
	// AfterSeq: the first Limit above it; more = newer exist.
	{chat.HistoryQuery{AfterSeq: 6, Limit: 3}, seqRange(7, 9), true},
	{chat.HistoryQuery{AfterSeq: 7, Limit: 3}, seqRange(8, 10), false},
	{chat.HistoryQuery{AfterSeq: 8, Limit: 5}, seqRange(9, 10), false},
	{chat.HistoryQuery{AfterSeq: 10, Limit: 5}, []int64{}, false},
	// After: AfterSeq 0 is a bound too: the oldest first, not the latest.
	{chat.HistoryQuery{AfterSeq: 0, After: true, Limit: 3}, seqRange(1, 3), true},
	{chat.HistoryQuery{AfterSeq: 0, After: true, Limit: 10}, seqRange(1, 10), false},
	{chat.HistoryQuery{AfterSeq: 0, After: true, BeforeSeq: 9, Limit: 3}, seqRange(1, 3), true},
	// Both: the first Limit strictly between; more = more lie between.
	{chat.HistoryQuery{AfterSeq: 2, BeforeSeq: 9, Limit: 3}, seqRange(3, 5), true},
	{chat.HistoryQuery{AfterSeq: 2, BeforeSeq: 6, Limit: 3}, seqRange(3, 5), false},
	{chat.HistoryQuery{AfterSeq: 2, BeforeSeq: 7, Limit: 3}, seqRange(3, 5), true},
	{chat.HistoryQuery{AfterSeq: 0, BeforeSeq: 11, Limit: 10}, seqRange(1, 10), false},
	{chat.HistoryQuery{AfterSeq: 4, BeforeSeq: 5, Limit: 3}, []int64{}, false},
	{chat.HistoryQuery{AfterSeq: 1, BeforeSeq: 100, Limit: 9}, seqRange(2, 10), false},
}

var historyTests = []storeTest{
	{"Paging", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		alice, bob := f.user("alice"), f.user("bob")
		r := f.room(chat.KindPublic, alice)
		sent := f.sendN(r, alice, 10)
		// Noise in another room must never show up.
		f.sendN(f.room(chat.KindPublic, bob), bob, 4)
		for _, tc := range historyCases {
			t.Run(fmt.Sprintf("after=%d,before=%d,limit=%d", tc.q.AfterSeq, tc.q.BeforeSeq, tc.q.Limit), func(t *testing.T) {
				got, more, err := s.Messages(t.Context(), r.ID, tc.q)
				wantErr(t, "Messages", err, nil)
				checkSeqs(t, "Messages", got, tc.want)
				if more != tc.wantMore {
					t.Errorf("Messages hasMore: got %v, want %v", more, tc.wantMore)
				}
				for _, m := range got {
					checkMessage(t, fmt.Sprintf("Messages seq %d", m.Seq), m, sent[m.Seq-1])
				}
			})
		}
	}},
	{"EmptyRoom", func(t *testing.T, s Store) {
		f := newFixture(t, s)
		r := f.room(chat.KindPublic, f.user("alice"))
		for _, q := range []chat.HistoryQuery{{Limit: 5}, {BeforeSeq: 3, Limit: 5}, {AfterSeq: 1, Limit: 5}, {AfterSeq: 1, BeforeSeq: 9, Limit: 5}} {
			got, more, err := s.Messages(f.ctx(), r.ID, q)
			wantErr(t, "Messages", err, nil)
			if len(got) != 0 || more {
				t.Errorf("Messages(%+v) on empty room: got %d messages, hasMore=%v, want 0, false", q, len(got), more)
			}
		}
	}},
}
