package sfu

import (
	"sync/atomic"
	"time"
)

// latency is a histogram of forwarding latencies (packet read → written
// to the subscriber's transport) in 10 µs buckets up to 20 ms, recorded
// with atomics on the hot path when enabled (load measurements).
type latency struct {
	buckets [2001]atomic.Int64
}

const latencyBucket = int64(10 * time.Microsecond)

func (l *latency) record(ns int64) {
	i := max(ns/latencyBucket, 0)
	if i >= int64(len(l.buckets)) {
		i = int64(len(l.buckets)) - 1
	}
	l.buckets[i].Add(1)
}

// quantile returns the latency under which q of the packets were
// forwarded (bucket upper bound) and the count.
func (l *latency) quantile(q float64) (time.Duration, int64) {
	var total int64
	for i := range l.buckets {
		total += l.buckets[i].Load()
	}
	if total == 0 {
		return 0, 0
	}
	want := int64(q * float64(total))
	var seen int64
	for i := range l.buckets {
		seen += l.buckets[i].Load()
		if seen >= want {
			return time.Duration(int64(i+1) * latencyBucket), total
		}
	}
	return time.Duration(int64(len(l.buckets)) * latencyBucket), total
}
