package clustertest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A port picked by freePort can be bound by another test's hub before ours
// starts. Its /readyz answers 200, but for another node: waitReady must not
// take that for our hub, or the test talks to a hub of another cluster.
func TestWaitReadyWantsItsOwnNode(t *testing.T) {
	for _, tc := range []struct {
		name, node string
		status     int
		wantReady  bool
	}{
		{"own node", "hub0-x", http.StatusOK, true},
		{"another hub on the port", "hub7-other", http.StatusOK, false},
		{"own node, not ready", "hub0-x", http.StatusServiceUnavailable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"status":"ok","node":"` + tc.node + `"}`))
			}))
			defer srv.Close()
			// A process that exits after a while stands in for our hub
			// failing to bind; waitReady must report that exit.
			p := &process{exited: make(chan struct{}), err: errors.New("exit status 1")}
			time.AfterFunc(3*pollEvery, func() { close(p.exited) })
			h := &Hub{Index: 0, NodeID: "hub0-x", URL: srv.URL, proc: p}
			err := h.waitReady(time.Minute)
			if tc.wantReady {
				if err != nil {
					t.Fatalf("waitReady: %v, want ready", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "exited during start-up") {
				t.Fatalf("waitReady: got %v, want the exit of our own process", err)
			}
		})
	}
}
