package clustertest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/pawfect/hub/internal/clustertest"
)

// TestMain builds the hub once for every test here (and removes it after),
// and proves the tests leave no goroutine behind: clients, private NATS
// servers and process reapers all end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(clustertest.M(m),
		// The net/http keep-alive client used to call the hubs is not ours.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
