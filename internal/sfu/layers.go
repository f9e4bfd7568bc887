package sfu

import (
	"slices"
	"time"
)

// Layer selection defaults.
const (
	DefaultHeadroom = 1.2             // estimate needed over a layer's bitrate to move up to it
	DefaultUpHold   = 2 * time.Second // how long the estimate must allow a higher layer first
)

// LayerSelector picks the simulcast layer one subscriber is sent, from the
// bandwidth its receiver is estimated to have (REMB or TWCC). Moving down
// is immediate, since a layer the link cannot carry stalls the video; moving
// up waits until the estimate has allowed the higher layer, with headroom,
// for a hold period, so a noisy estimate does not flap between layers. The
// layer actually forwarded changes only at a keyframe of the target layer
// (AtKeyframe): a decoder cannot start a stream anywhere else. It is not
// safe for concurrent use; the caller passes the time.
type LayerSelector struct {
	bitrates []int // bits/s of each layer, lowest first
	headroom float64
	hold     time.Duration

	current int // layer forwarded now; -1 before the first keyframe
	target  int // layer wanted
	upSince time.Time
	up      int // the higher layer the estimate has been allowing since upSince; -1 if none
}

// NewLayerSelector returns a selector over layers of the given bitrates
// (bits/s, lowest layer first). It starts on the lowest layer, the one
// that reaches every subscriber fastest. headroom ≤ 1 and hold ≤ 0 take
// the defaults.
func NewLayerSelector(bitrates []int, headroom float64, hold time.Duration) *LayerSelector {
	if headroom <= 1 {
		headroom = DefaultHeadroom
	}
	if hold <= 0 {
		hold = DefaultUpHold
	}
	return &LayerSelector{bitrates: slices.Clone(bitrates), headroom: headroom, hold: hold, current: -1, up: -1}
}

// Update takes a new bandwidth estimate and returns the target layer.
func (s *LayerSelector) Update(now time.Time, estimateBps int) int {
	fits := 0
	for i, br := range s.bitrates {
		if float64(br)*s.headroom <= float64(estimateBps) {
			fits = i
		}
	}
	switch {
	case fits < s.target:
		s.target, s.up = fits, -1
	case fits > s.target:
		if s.up != fits {
			s.up, s.upSince = fits, now
		}
		if now.Sub(s.upSince) >= s.hold {
			s.target, s.up = fits, -1
		}
	default:
		s.up = -1
	}
	return s.target
}

// Target is the layer the subscriber should be sent.
func (s *LayerSelector) Target() int { return s.target }

// Current is the layer being forwarded, -1 before the first switch.
func (s *LayerSelector) Current() int { return s.current }

// NeedsKeyframe reports whether the target layer's publisher should be
// asked for a keyframe, so that the switch can happen.
func (s *LayerSelector) NeedsKeyframe() bool { return s.current != s.target }

// AtKeyframe is called at a keyframe of layer; it reports whether the
// subscriber switches to that layer now (the caller then rewrites the
// keyframe's first packet with switchTo set).
func (s *LayerSelector) AtKeyframe(layer int) bool {
	if layer != s.target || layer == s.current {
		return false
	}
	s.current = layer
	return true
}
