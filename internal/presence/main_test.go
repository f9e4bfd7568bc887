package presence_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain proves that a closed Redis presence leaves no heartbeat (or
// client) goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
