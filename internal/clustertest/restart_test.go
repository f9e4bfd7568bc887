package clustertest_test

import (
	"testing"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/clustertest"
	"github.com/pawfect/hub/internal/redistest"
	"github.com/pawfect/hub/internal/server/servertest"
)

// outage is how long the restart tests keep a backend down, at least: long
// enough for the hubs' reconnect attempts to fail a time or two (NATS
// retries every 2 s) while the traffic goes on. It shapes the scenario; it
// is not a bound on anything.
const outage = 3 * time.Second

// TestNATSRestart stops the NATS server under three hubs in the middle of
// traffic and starts it again on the same port. The hubs must reconnect by
// themselves and fan-out must resume; every send meanwhile is either
// acknowledged, and then reaches everyone, or refused with unavailable.
func TestNATSRestart(t *testing.T) {
	t.Parallel()
	redistest.URL(t)                       // skip (or fail) before starting anything
	pgURL := servertest.RequirePostgres(t) // the cluster's store: a fresh schema
	nats := clustertest.StartNATS(t)
	c := clustertest.Start(t, clustertest.Options{Hubs: 3, NATSURL: nats.URL, DatabaseURL: pgURL, Env: map[string]string{
		"HUB_SEND_RATE": "100000/1s",
		// No periodic repair: what reaches other hubs after the restart
		// travelled over NATS (or was repaired when the bus reconnected),
		// so the test sees whether fan-out really resumed.
		"HUB_REPAIR_INTERVAL": "1h",
	}})
	tr := trafficBeforeOutage(t, c)

	stoppedAt := time.Now()
	nats.Stop(t)
	waitReadiness(t, c, false) // every hub noticed
	t.Logf("NATS stopped; every hub unready %v later", since(stoppedAt))
	before := tr.acks.Load() + tr.fails.Load()
	eventually(t, settleTimeout, "30 sends answered during the outage", func() bool {
		return tr.acks.Load()+tr.fails.Load() >= before+30 || tr.stopped()
	})
	tr.failIfStopped("during the NATS outage")
	time.Sleep(time.Until(stoppedAt.Add(outage)))
	startedAt := time.Now()
	nats.Start(t)
	waitReadiness(t, c, true)
	t.Logf("NATS started again %v after it stopped; every hub ready %v later", startedAt.Sub(stoppedAt).Round(100*time.Millisecond), since(startedAt))
	tr.waitAcks(60, "traffic after the restart")
	tr.check()
}

// TestPostgresRestart restarts the PostgreSQL under three hubs in the
// middle of traffic. Sends during the outage must fail with unavailable
// (and succeed when retried after it); every acknowledged send must be in
// the history afterwards, and the hubs must recover by themselves.
func TestPostgresRestart(t *testing.T) {
	t.Parallel()
	redistest.URL(t) // skip (or fail) before starting anything
	servertest.RequireNATS(t)
	pg := clustertest.StartPostgres(t)
	c := clustertest.Start(t, clustertest.Options{Hubs: 3, DatabaseURL: pg.URL, Env: map[string]string{"HUB_SEND_RATE": "100000/1s"}})
	tr := trafficBeforeOutage(t, c)

	stoppedAt := time.Now()
	pg.Stop(t)
	waitReadiness(t, c, false)
	t.Logf("PostgreSQL stopped; every hub unready %v later", since(stoppedAt))
	// Every peer, so every hub, had a send refused while the store was down.
	for _, p := range tr.peers {
		n := p.fails.Load()
		eventually(t, settleTimeout, "peer "+p.name+" refused during the outage", func() bool {
			return p.fails.Load() > n || tr.stopped()
		})
	}
	tr.failIfStopped("during the PostgreSQL outage")
	time.Sleep(time.Until(stoppedAt.Add(outage)))
	startedAt := time.Now()
	pg.Start(t)
	waitReadiness(t, c, true)
	t.Logf("PostgreSQL started again %v after it stopped; every hub ready %v later", startedAt.Sub(stoppedAt).Round(100*time.Millisecond), since(startedAt))
	tr.waitAcks(60, "traffic after the restart")
	tr.check()
}

// trafficBeforeOutage starts six peers (two per hub) sending to one room
// and returns once 30 sends are acknowledged.
func trafficBeforeOutage(t *testing.T, c *clustertest.Cluster) *traffic {
	t.Helper()
	owner := c.API(0).Register(t, "owner")
	room := c.API(0).CreateRoom(t, owner, "busy", chat.KindPublic)
	tr := newTraffic(t, c, room.ID, 6, false)
	tr.run()
	tr.waitAcks(30, "traffic before the outage")
	return tr
}
