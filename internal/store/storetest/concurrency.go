package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/pawfect/hub/internal/chat"
)

var concurrencyTests = []storeTest{
	{"AppendsAreGapless", func(t *testing.T, s Store) {
		const workers, total = 8, 200
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		msgs := make([]chat.Message, total)
		for i := range msgs {
			msgs[i] = f.msg(r, alice, fmt.Sprintf("m%d", i), "")
		}

		var (
			mu   sync.Mutex
			got  []int64
			wg   sync.WaitGroup
			next = make(chan chat.Message)
			ctx  = t.Context()
		)
		for range workers {
			wg.Go(func() {
				for m := range next {
					stored, created, err := s.AppendMessage(ctx, m)
					if err != nil || !created {
						t.Errorf("AppendMessage(%s): got created=%v, err=%v, want true, nil", m.Text, created, err)
						continue
					}
					mu.Lock()
					got = append(got, stored.Seq)
					mu.Unlock()
				}
			})
		}
		for _, m := range msgs {
			next <- m
		}
		close(next)
		wg.Wait()
		if t.Failed() {
			return
		}

		slices.Sort(got)
		if want := seqRange(1, total); !slices.Equal(got, want) {
			t.Fatalf("seqs: got %v, want 1..%d with no gaps or duplicates", got, total)
		}
		checkLastSeq(t, s, r, total)
		page, more, err := s.Messages(f.ctx(), r.ID, chat.HistoryQuery{Limit: total})
		wantErr(t, "Messages", err, nil)
		checkSeqs(t, "Messages", page, seqRange(1, total))
		if more {
			t.Fatalf("Messages hasMore: got true, want false")
		}
	}},
	{"DuplicateSendsCreateOnce", func(t *testing.T, s Store) {
		const workers, rounds = 8, 10
		f := newFixture(t, s)
		alice := f.user("alice")
		r := f.room(chat.KindPublic, alice)
		for round := range rounds {
			cmid := fmt.Sprintf("c-%d", round)
			var (
				wg      sync.WaitGroup
				start   = make(chan struct{})
				results = make([]chat.Message, workers)
				created = make([]bool, workers)
				errs    = make([]error, workers)
			)
			for i := range workers {
				// Each attempt has its own message ID, as a client retrying
				// through different hubs would.
				m := f.msg(r, alice, fmt.Sprintf("round %d attempt %d", round, i), cmid)
				wg.Go(func() {
					<-start
					results[i], created[i], errs[i] = s.AppendMessage(t.Context(), m)
				})
			}
			close(start)
			wg.Wait()

			n := 0
			for i := range workers {
				wantErr(t, fmt.Sprintf("round %d attempt %d", round, i), errs[i], nil)
				if created[i] {
					n++
				}
				if results[i].ID != results[0].ID || results[i].Seq != results[0].Seq {
					t.Fatalf("round %d attempt %d: got message %s seq %d, want %s seq %d (the one stored)",
						round, i, results[i].ID, results[i].Seq, results[0].ID, results[0].Seq)
				}
			}
			if n != 1 {
				t.Fatalf("round %d: got %d created, want exactly 1", round, n)
			}
			if want := int64(round + 1); results[0].Seq != want {
				t.Fatalf("round %d: got seq %d, want %d", round, results[0].Seq, want)
			}
		}
		checkLastSeq(t, s, r, rounds)
	}},
}
