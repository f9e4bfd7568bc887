package rooms

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain proves that every Service, bus and store the tests open is
// closed without leaving a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
