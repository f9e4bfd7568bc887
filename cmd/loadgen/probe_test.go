package main

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestProbeRoundTrip(t *testing.T) {
	text := formatProbe(1_712_345_678_901_234_567, "r12p0", 42)
	if want := "lg 1712345678901234567 r12p0/42"; text != want {
		t.Fatalf("formatProbe = %q, want %q", text, want)
	}
	ts, pub, n, ok := parseProbe(text)
	if !ok || ts != 1_712_345_678_901_234_567 || pub != "r12p0" || n != 42 {
		t.Fatalf("parseProbe(%q) = %d, %q, %d, %v", text, ts, pub, n, ok)
	}
}

func TestParseProbeRejects(t *testing.T) {
	for _, text := range []string{
		"", "hello", "lg", "lg ", "lg 123", "lg abc p0/1", "lg -5 p0/1", "lg 0 p0/1",
		"lg 123 p0", "lg 123 /1", "lg 123 p0/x", "lg 123 p0/-1", "LG 123 p0/1",
		" lg 123 p0/1", "lg 99999999999999999999 p0/1",
	} {
		if _, _, _, ok := parseProbe(text); ok {
			t.Errorf("parseProbe(%q) ok, want rejected", text)
		}
	}
}

func TestSeqTracker(t *testing.T) {
	cases := []struct {
		name      string
		base      int64
		seqs      []int64
		fresh     int
		gaps      int64
		late      int64
		dups      int64
		wantFinal int64
	}{
		{"in order", 0, []int64{1, 2, 3, 4}, 4, 0, 0, 0, 4},
		{"from join baseline", 10, []int64{11, 12}, 2, 0, 0, 0, 12},
		{"missing first after join", 10, []int64{12, 13}, 2, 1, 0, 0, 13},
		{"gap", 0, []int64{1, 2, 5, 6}, 4, 2, 0, 0, 6},
		{"duplicate", 0, []int64{1, 2, 2, 3}, 3, 0, 0, 1, 3},
		{"late arrival", 0, []int64{1, 3, 2, 4}, 4, 0, 1, 0, 4},
		{"late arrival fills one of two holes", 0, []int64{1, 4, 2}, 3, 1, 1, 0, 4},
		{"late arrival twice", 0, []int64{1, 3, 2, 2}, 3, 0, 1, 1, 3},
		{"at or below the join baseline", 10, []int64{9, 10, 11}, 1, 0, 0, 2, 11},
		{"replay", 0, []int64{1, 2, 3, 1, 2, 3}, 3, 0, 0, 3, 3},
		{"holes beyond the bound", 0, []int64{maxHoles + 2, 1, maxHoles + 1}, 2, maxHoles, 1, 1, maxHoles + 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := seqTracker{last: c.base}
			fresh := 0
			for _, s := range c.seqs {
				if tr.observe(s) {
					fresh++
				}
			}
			if fresh != c.fresh || tr.gaps != c.gaps || tr.late != c.late || tr.dups != c.dups || tr.last != c.wantFinal {
				t.Errorf("got fresh %d gaps %d late %d dups %d last %d, want %d %d %d %d %d",
					fresh, tr.gaps, tr.late, tr.dups, tr.last, c.fresh, c.gaps, c.late, c.dups, c.wantFinal)
			}
			if len(tr.holes) > maxHoles {
				t.Errorf("%d holes remembered, want at most %d", len(tr.holes), maxHoles)
			}
		})
	}
}

func TestReceiverCountsOnlyWindowAndFresh(t *testing.T) {
	var w window
	w.start.Store(0)
	var h Histogram
	r := &receiver{win: &w, hist: &h}
	r.joined("room1", 0)
	// Before the window is set nothing counts, but seqs are checked.
	r.onMessage("room1", 1, formatProbe(100, "p0", 0), timeAt(200))
	w.end.Store(10_000_000)
	w.start.Store(1_000_000)
	r.onMessage("room1", 2, formatProbe(500_000, "p0", 1), timeAt(600_000))     // warmup
	r.onMessage("room1", 3, formatProbe(2_000_000, "p0", 2), timeAt(5_000_000)) // 3 ms
	r.onMessage("room1", 3, formatProbe(2_000_000, "p0", 2), timeAt(6_000_000)) // duplicate
	r.onMessage("room1", 5, formatProbe(3_000_000, "p0", 4), timeAt(4_000_000)) // 1 ms, one gap
	r.onMessage("room1", 6, "someone else", timeAt(4_000_000))
	r.onMessage("room2", 1, formatProbe(3_000_000, "p0", 4), timeAt(4_000_000))
	r.onMessage("room1", 7, formatProbe(10_000_000, "p0", 5), timeAt(11_000_000)) // after the window
	if got := r.delivered.Load(); got != 2 {
		t.Errorf("delivered = %d, want 2", got)
	}
	if r.seq.gaps != 1 || r.seq.dups != 1 || r.foreign != 2 {
		t.Errorf("gaps %d dups %d foreign %d, want 1 1 2", r.seq.gaps, r.seq.dups, r.foreign)
	}
	if h.Count() != 2 || h.Max() != 3000 || h.Min() != 1000 {
		t.Errorf("latencies count %d min %d max %d µs, want 2, 1000, 3000", h.Count(), h.Min(), h.Max())
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\thub\nVmPeak:\t  999 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n"
	got, err := parseVmRSS(bufio.NewScanner(strings.NewReader(status)), "status")
	if err != nil || got != 51234 {
		t.Fatalf("parseVmRSS = %d, %v, want 51234", got, err)
	}
	if _, err := parseVmRSS(bufio.NewScanner(strings.NewReader("Name:\tx\n")), "status"); err == nil {
		t.Fatal("parseVmRSS without VmRSS: no error")
	}
}

func timeAt(ns int64) time.Time { return time.Unix(0, ns) }
