package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestHistIndexBoundsAgree(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < histBuckets; i++ {
		lo, hi := histBounds(i)
		if int64(lo) != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, want %d (buckets must tile the range)", i, lo, prevHi+1)
		}
		if got := histIndex(lo); got != i {
			t.Fatalf("histIndex(%d) = %d, want %d", lo, got, i)
		}
		if got := histIndex(hi); got != i {
			t.Fatalf("histIndex(%d) = %d, want %d", hi, got, i)
		}
		if lo >= histLinear && float64(hi-lo+1)/float64(lo) > 1.0/128+1e-12 {
			t.Fatalf("bucket %d [%d,%d] wider than 1/128 of its value", i, lo, hi)
		}
		prevHi = int64(hi)
	}
	if uint64(prevHi) != histMaxValue {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, histMaxValue)
	}
	if got := histIndex(math.MaxUint64); got != histBuckets-1 {
		t.Fatalf("histIndex(MaxUint64) = %d, want last bucket %d", got, histBuckets-1)
	}
}

func TestQuantilesMatchSortedSample(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := map[string]func() uint64{
		"uniform 0..10ms": func() uint64 { return r.Uint64N(10_000) },
		"lognormal": func() uint64 {
			return uint64(math.Exp(r.NormFloat64()*1.2 + 7)) // median ~1.1 ms, long tail
		},
		"small exact": func() uint64 { return r.Uint64N(200) },
	}
	for name, gen := range cases {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			vals := make([]uint64, 100_000)
			for i := range vals {
				vals[i] = gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				want := vals[int(math.Ceil(q*float64(len(vals))))-1]
				got := h.Quantile(q)
				if got < want || float64(got-want) > float64(want)/128+0.5 {
					t.Errorf("Quantile(%v) = %d, want %d (within +1/128)", q, got, want)
				}
			}
			if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
				t.Errorf("min/max = %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
			if h.Count() != uint64(len(vals)) {
				t.Errorf("Count = %d, want %d", h.Count(), len(vals))
			}
		})
	}
}

func TestQuantileSmallCases(t *testing.T) {
	var h Histogram
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("empty Quantile = %d, want 0", got)
	}
	h.Record(1234567)
	for _, q := range []float64{0.001, 0.5, 1} {
		if got := h.Quantile(q); got != 1234567 {
			t.Errorf("single value: Quantile(%v) = %d, want 1234567 (clipped to min/max)", q, got)
		}
	}
	var g Histogram
	for v := uint64(1); v <= 100; v++ {
		g.Record(v)
	}
	for q, want := range map[float64]uint64{0.5: 50, 0.9: 90, 0.99: 99, 1: 100} {
		if got := g.Quantile(q); got != want {
			t.Errorf("1..100: Quantile(%v) = %d, want %d", q, got, want)
		}
	}
	if got := g.Mean(); got != 50.5 {
		t.Errorf("Mean = %v, want 50.5", got)
	}
}

func TestMergeAndConcurrentRecord(t *testing.T) {
	shards := make([]Histogram, 4)
	var wg sync.WaitGroup
	for s := range shards {
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for v := uint64(0); v < 10_000; v++ {
					shards[s].Record(v + uint64(s))
				}
			}()
		}
	}
	wg.Wait()
	var all Histogram
	for i := range shards {
		all.Merge(&shards[i])
	}
	if got, want := all.Count(), uint64(4*4*10_000); got != want {
		t.Fatalf("merged Count = %d, want %d", got, want)
	}
	if all.Min() != 0 || all.Max() != 10_002 {
		t.Errorf("merged min/max = %d/%d, want 0/10002", all.Min(), all.Max())
	}
}
