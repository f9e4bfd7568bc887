package sfu

import (
	"encoding/binary"
	"math"
	"math/bits"
	"time"
)

// Bandwidth estimate bounds, bits/s.
const (
	initialEstimate = 1_000_000
	minEstimate     = 100_000
	maxEstimate     = 20_000_000
	rembValid       = 5 * time.Second // a REMB is trusted over loss this long
)

// RTCP packet types the estimate reads.
const (
	rtcpSR  = 200
	rtcpRR  = 201
	fmtREMB = 15 // PSFB application layer feedback
)

// lossEstimator is a subscriber's bandwidth estimate from its RTCP: the
// latest REMB when the receiver sends one (browsers do when goog-remb is
// negotiated and transport-cc is not used), else a loss-based controller
// on receiver reports, as GCC's loss-based part: up 8% while loss stays
// under 2%, down by half the loss rate above 10%. It is not a delay-based
// estimator. It belongs to the subscriber's RTCP reader.
type lossEstimator struct {
	est      int64
	lastREMB time.Time
}

// update reads one RTCP compound packet; ok when the estimate changed.
func (e *lossEstimator) update(buf []byte, now time.Time) (int64, bool) {
	if e.est == 0 {
		e.est = initialEstimate
	}
	changed := false
	for len(buf) >= rtcpHdrLen {
		count := buf[0] & 0x1f
		pt := buf[1]
		size := (int(binary.BigEndian.Uint16(buf[2:4])) + 1) * 4
		if size > len(buf) {
			break
		}
		p := buf[:size]
		buf = buf[size:]
		switch {
		case pt == rtcpPSFB && count == fmtREMB && len(p) >= 20 && string(p[12:16]) == "REMB":
			exp := uint(p[17] >> 2)
			mant := uint64(p[17]&3)<<16 | uint64(p[18])<<8 | uint64(p[19])
			e.est = clampEstimate(rembBitrate(mant, exp))
			e.lastREMB, changed = now, true
		case (pt == rtcpRR || pt == rtcpSR) && now.Sub(e.lastREMB) > rembValid:
			off := 8
			if pt == rtcpSR {
				off = 28
			}
			worst := -1
			for i := 0; i < int(count) && off+24 <= len(p); i, off = i+1, off+24 {
				worst = max(worst, int(p[off+4]))
			}
			if worst < 0 {
				continue
			}
			loss := float64(worst) / 256
			switch {
			case loss < 0.02:
				e.est = clampEstimate(int64(float64(e.est) * 1.08))
			case loss > 0.1:
				e.est = clampEstimate(int64(float64(e.est) * (1 - 0.5*loss)))
			}
			changed = true
		}
	}
	return e.est, changed
}

// rembBitrate is mantissa × 2^exp (an 18-bit mantissa, a 6-bit
// exponent), saturated at the largest int64 instead of wrapping.
func rembBitrate(mant uint64, exp uint) int64 {
	if mant != 0 && uint(bits.Len64(mant))+exp > 63 {
		return math.MaxInt64
	}
	return int64(mant << exp)
}

func clampEstimate(v int64) int64 { return min(max(v, minEstimate), maxEstimate) }
