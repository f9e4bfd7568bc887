package ratelimit_test

import (
	"testing"

	"github.com/pawfect/hub/internal/ratelimit"
	"github.com/pawfect/hub/internal/ratelimit/ratelimittest"
)

func TestMemory(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T, clock *ratelimittest.Clock) ratelimittest.L {
		m := ratelimit.NewMemory(ratelimit.WithClock(clock.Now))
		t.Cleanup(m.Close)
		return m
	})
}
