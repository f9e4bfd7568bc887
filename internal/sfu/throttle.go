package sfu

import "time"

// KeyframeThrottle bounds the keyframe requests (PLIs) sent to one
// publisher: every subscriber that joins or loses a picture asks for one,
// but the publisher needs at most one per interval, since a keyframe serves
// them all. A request refused inside the interval is not lost: Due reports
// it once the interval has passed, so the last asker still gets its
// keyframe. The caller passes the time, so the throttle has no clock of
// its own; it is not safe for concurrent use.
type KeyframeThrottle struct {
	every   time.Duration
	last    time.Time
	sent    bool // a request has been sent (last is set)
	pending bool // a request was refused and waits for the interval
}

// NewKeyframeThrottle returns a throttle allowing one request per every.
func NewKeyframeThrottle(every time.Duration) *KeyframeThrottle {
	return &KeyframeThrottle{every: every}
}

// Request reports whether a keyframe request should go to the publisher
// now; if not, it is remembered for Due.
func (k *KeyframeThrottle) Request(now time.Time) bool {
	if !k.sent || now.Sub(k.last) >= k.every {
		k.last, k.sent, k.pending = now, true, false
		return true
	}
	k.pending = true
	return false
}

// Due reports whether a remembered request should be sent now (and then
// counts it as sent).
func (k *KeyframeThrottle) Due(now time.Time) bool {
	if !k.pending || now.Sub(k.last) < k.every {
		return false
	}
	k.last, k.pending = now, false
	return true
}
