package clustertest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// StartSFU starts one more cmd/sfu node on the cluster's NATS server and
// subject prefix, in loopback mode (its ICE candidates are on 127.0.0.1),
// and waits until its /readyz answers. env holds further HUB_* settings.
// Hubs reach it once they run with HUB_SFU=nats. It is killed at cleanup
// like the hubs.
func (c *Cluster) StartSFU(t testing.TB, env map[string]string) *Hub {
	t.Helper()
	i := len(c.sfus)
	h := &Hub{
		Index:   i,
		NodeID:  fmt.Sprintf("sfu%d-%s", i, c.Prefix),
		LogPath: filepath.Join(c.dir, fmt.Sprintf("sfu%d.log", i)),
		bin:     sfuPath(t),
		name:    fmt.Sprintf("sfu%d", i),
	}
	c.sfus = append(c.sfus, h)
	var err error
	for try := 0; try < 4; try++ {
		if try > 0 {
			_ = os.Truncate(h.LogPath, 0) // a port clash is no news for the log
		}
		port, perr := freePort()
		if perr != nil {
			t.Fatalf("clustertest: pick a port for %s: %v", h.name, perr)
		}
		h.Addr = loopback(port)
		h.URL = "http://" + h.Addr
		h.env = sfuEnv(h, c.opts, env)
		if err = h.start(); err == nil || !h.addressInUse() {
			break
		}
		h.signal(syscall.SIGKILL, stopTimeout)
	}
	if err != nil {
		t.Fatalf("clustertest: %v", err)
	}
	t.Logf("clustertest: %s ready at %s (node %s)", h.name, h.URL, h.NodeID)
	return h
}

// KillSFU kills SFU node i with SIGKILL: no goodbye, so the hubs learn of
// its death only from its missing beats.
func (c *Cluster) KillSFU(t testing.TB, i int) {
	t.Helper()
	h := c.sfus[i]
	if !h.Running() {
		t.Fatalf("clustertest: kill %s: not running", h.name)
	}
	if err, _ := h.signal(syscall.SIGKILL, stopTimeout); err != nil && !isSignaled(err, syscall.SIGKILL) {
		t.Errorf("clustertest: %s ended with %v before SIGKILL reached it", h.name, err)
	}
}

// sfuEnv is an SFU node's process environment, built like hubEnv's.
func sfuEnv(h *Hub, o Options, extra map[string]string) []string {
	vars := map[string]string{
		"HUB_SFU_ADDR":            h.Addr,
		"HUB_NODE_ID":             h.NodeID,
		"HUB_NATS_URL":            o.NATSURL,
		"HUB_NATS_SUBJECT_PREFIX": o.Prefix,
		"HUB_SFU_LOOPBACK":        "true",
		"HUB_LOG_LEVEL":           "info",
	}
	for k, v := range extra {
		vars[k] = v
	}
	return envWith(vars)
}
