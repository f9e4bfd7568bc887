// Package clustertest runs several hubs as separate operating-system
// processes on shared backends, for tests of what only a real multi-process
// deployment shows: fan-out, presence and rate limits across hubs, a hub
// killed with SIGKILL, and NATS or PostgreSQL restarting under traffic.
//
// # What it owns
//
//   - The hub binary: ./cmd/hub, built once per test binary (with -race when
//     the test binary has it) into a temporary directory that M removes.
//   - Hub processes: Start launches N hubs on free loopback ports with one
//     subject prefix, one token secret, a data directory each and the
//     backends given (by default the machine's PostgreSQL — a fresh schema
//     per cluster via pgtest —, NATS and Redis from HUB_TEST_*). It waits
//     for each /readyz, writes each hub's output to a log file that is
//     printed when the test fails, and kills and reaps every process at
//     cleanup. A hub log that reports a data race fails the test.
//   - Private backends a test may restart without disturbing other
//     packages' tests: NATS (an in-process nats-server listening on a fixed
//     loopback port, restartable on it) and PostgreSQL (initdb and postgres
//     from the machine's install, run as the postgres OS user when the test
//     runs as root, on a free port with its data and sockets in a temporary
//     directory).
//   - Client: a WebSocket client that never fails the test by itself, so
//     traffic goroutines can ride out a hub dying under them, and that keeps
//     every frame it received for checks afterwards. For ordinary flows use
//     servertest's helpers through Cluster.API.
//
// # Entry points
//
//	func TestMain(m *testing.M) { os.Exit(clustertest.M(m).Run()) }
//
//	c := clustertest.Start(t, clustertest.Options{Hubs: 3})
//	api := c.API(0)              // a servertest.Hub: Register, CreateRoom, Dial…
//	c.Kill(2); c.Restart(2)      // SIGKILL; start again on the same port
//	nats := clustertest.StartNATS(t)       // nats.Stop(t); nats.Start(t)
//	pg := clustertest.StartPostgres(t)     // pg.Stop(t); pg.Start(t)
//	cl, err := clustertest.Dial(ctx, c.URL(1), token)
//
// Without the services a test needs (HUB_TEST_DATABASE_URL,
// HUB_TEST_NATS_URL, HUB_TEST_REDIS_URL, or PostgreSQL's binaries for
// StartPostgres) the test is skipped, or failed under
// HUB_TEST_REQUIRE_SERVICES=1.
//
// # Concurrency contract
//
// Cluster, Hub, NATS and Postgres belong to the test that made them: call
// their methods from that test's goroutine, except Cluster's URL, URLs, Len
// and API, which only read what Start fixed and may be called from any
// goroutine (a hub keeps its address across restarts). Each hub process has one
// goroutine that waits for it to exit; Kill, Stop and the cleanup wait for
// that goroutine. Client is safe for concurrent use; its one reader
// goroutine ends when the connection does, and Close waits for it.
package clustertest
