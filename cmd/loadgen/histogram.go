package main

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// Histogram is a fixed-bucket, log-linear histogram of non-negative integer
// values (loadgen records microseconds). Values below 256 have a bucket each;
// above, every power of two is split into 128 buckets, so a reported
// quantile is at most 1/128 (0.8 %) above the true value. Values are clamped
// to histMaxValue (about 12.7 days in µs).
//
// Record is safe for concurrent use (atomic counters); Quantile and the
// other readers should run once recording has stopped, or accept a
// slightly torn view.
type Histogram struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Uint64
	max     atomic.Uint64
	min     atomic.Uint64 // stored as value+1 so zero means "none yet"
}

const (
	histLinear   = 256              // exact buckets 0..255
	histSubBits  = 7                // 128 sub-buckets per power of two above
	histSub      = 1 << histSubBits // 128
	histMaxBits  = 40               // values < 2^40
	histMaxValue = uint64(1)<<histMaxBits - 1
	histBuckets  = histLinear + (histMaxBits-histSubBits-1)*histSub
)

// histIndex maps v to its bucket.
func histIndex(v uint64) int {
	if v > histMaxValue {
		v = histMaxValue
	}
	if v < histLinear {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1) // ≥ 1 for v ≥ 256
	m := v >> uint(shift)                      // in [128, 256)
	return histLinear + (shift-1)*histSub + int(m-histSub)
}

// histBounds is the inclusive value range of bucket i.
func histBounds(i int) (lo, hi uint64) {
	if i < histLinear {
		return uint64(i), uint64(i)
	}
	k := i - histLinear
	shift := uint(k/histSub + 1)
	m := uint64(k%histSub + histSub)
	return m << shift, (m+1)<<shift - 1
}

// Record adds one value.
func (h *Histogram) Record(v uint64) {
	if v > histMaxValue {
		v = histMaxValue
	}
	h.buckets[histIndex(v)].Add(1)
	h.count.Add(1)
	h.sum.Add(v)
	for {
		cur := h.max.Load()
		if v <= cur || h.max.CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur := h.min.Load()
		if (cur != 0 && v+1 >= cur) || h.min.CompareAndSwap(cur, v+1) {
			break
		}
	}
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	n := o.count.Load()
	if n == 0 {
		return
	}
	for i := range o.buckets {
		if c := o.buckets[i].Load(); c != 0 {
			h.buckets[i].Add(c)
		}
	}
	h.count.Add(n)
	h.sum.Add(o.sum.Load())
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
	if m := o.min.Load(); m != 0 && (h.min.Load() == 0 || m < h.min.Load()) {
		h.min.Store(m)
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Max is the largest recorded value (exact), 0 if none.
func (h *Histogram) Max() uint64 { return h.max.Load() }

// Min is the smallest recorded value (exact), 0 if none.
func (h *Histogram) Min() uint64 {
	if m := h.min.Load(); m != 0 {
		return m - 1
	}
	return 0
}

// Mean is the exact mean of the recorded values, 0 if none.
func (h *Histogram) Mean() float64 {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Quantile returns the value at quantile q (0 < q ≤ 1): the upper bound of
// the bucket holding the ceil(q·count)-th smallest value, clipped to the
// exact min and max. It is 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) uint64 {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var cum uint64
	for i := range h.buckets {
		cum += h.buckets[i].Load()
		if cum >= rank {
			_, hi := histBounds(i)
			hi = min(hi, h.Max())
			return max(hi, h.Min())
		}
	}
	return h.Max()
}
