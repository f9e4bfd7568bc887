package server_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain proves that hubs stopped by the tests leave no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// pgx's pool health check and the net/http keep-alive client used by
		// the tests are not the hub's goroutines.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
