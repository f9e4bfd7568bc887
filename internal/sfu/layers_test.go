package sfu

import (
	"testing"
	"time"
)

func TestLayerSelector(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Three layers: 150 kb/s, 500 kb/s, 1.5 Mb/s; headroom 1.2, hold 1 s.
	s := NewLayerSelector([]int{150_000, 500_000, 1_500_000}, 1.2, time.Second)
	if s.Target() != 0 || s.Current() != -1 || !s.NeedsKeyframe() {
		t.Fatalf("start: target %d current %d, want target 0, nothing forwarded, a keyframe needed", s.Target(), s.Current())
	}
	if !s.AtKeyframe(0) || s.Current() != 0 || s.NeedsKeyframe() {
		t.Fatalf("first keyframe of layer 0: current %d, want 0 and no keyframe needed", s.Current())
	}
	steps := []struct {
		ms       int
		estimate int
		want     int
	}{
		{0, 2_000_000, 0},    // allows the top layer, but must hold first
		{500, 2_000_000, 0},  // still holding
		{1000, 2_000_000, 2}, // held for 1 s: up
		{1100, 1_000_000, 1}, // down at once
		{1200, 100_000, 0},   // down at once, even below the lowest layer
		{1300, 700_000, 0},   // 700k ≥ 1.2 × 500k: layer 1 allowed, hold starts
		{1800, 590_000, 0},   // 590k < 600k: not allowed any more, the hold ends
		{2000, 700_000, 0},   // allowed again: a new hold
		{2900, 700_000, 0},   // 900 ms of it
		{3000, 700_000, 1},   // 1 s: up
		{3100, 2_000_000, 1}, // the top layer allowed: hold
		{3600, 1_000_000, 1}, // only layer 1 now: the hold for layer 2 ends
		{4100, 2_000_000, 1}, // a new hold for layer 2 starts
		{5100, 2_000_000, 2}, // held: up
	}
	for _, st := range steps {
		if got := s.Update(at(st.ms), st.estimate); got != st.want {
			t.Fatalf("at %d ms with %d b/s: target %d, want %d", st.ms, st.estimate, got, st.want)
		}
	}
	// The switch waits for a keyframe of the target layer.
	if s.AtKeyframe(1) || s.Current() != 0 {
		t.Fatalf("a keyframe of layer 1 while layer 2 is the target: current %d, want still 0", s.Current())
	}
	if !s.NeedsKeyframe() || !s.AtKeyframe(2) || s.Current() != 2 || s.AtKeyframe(2) {
		t.Fatalf("keyframe of layer 2: current %d, want 2, switched once", s.Current())
	}
}
