package webhooks

import "time"

// Backoff is the wait before the next attempt after n failed attempts
// (n ≥ 1): base·2^(n-1), at most ceiling, of which a random part of up to
// half is taken off ("equal jitter"), so the wait d' lies in [d/2, d].
// The jitter spreads the retries of many deliveries that failed together
// (a receiver that was down) instead of sending them back all at once;
// keeping half the wait keeps the schedule exponential. r is a uniform
// sample in [0, 1).
func Backoff(n int, base, ceiling time.Duration, r float64) time.Duration {
	d := min(base, ceiling)
	for i := 1; i < n && d < ceiling; i++ {
		if d > ceiling/2 {
			d = ceiling // doubling would pass it (or overflow)
		} else {
			d *= 2
		}
	}
	half := d / 2
	return d - time.Duration(r*float64(half))
}
