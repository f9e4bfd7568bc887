package clustertest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// natsStartTimeout bounds a private NATS server's start-up.
const natsStartTimeout = 10 * time.Second

// NATS is a private NATS server owned by one test: a real nats-server
// listening on a loopback TCP port, run in the test process, that the test
// may stop and start again on the same port while hub processes are
// connected to it. It is shut down at cleanup.
type NATS struct {
	URL  string // nats://127.0.0.1:port, the same across restarts
	port int
	srv  *server.Server // nil while stopped
}

// StartNATS starts a private NATS server on a free port.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	n := &NATS{}
	t.Cleanup(func() { n.shutdown() })
	var err error
	for range 3 {
		if n.port, err = freePort(); err != nil {
			t.Fatalf("clustertest: nats: pick a port: %v", err)
		}
		if err = n.start(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("clustertest: nats: %v", err)
	}
	n.URL = "nats://" + loopback(n.port)
	return n
}

// Stop shuts the server down; its clients see the connection drop.
func (n *NATS) Stop(t testing.TB) {
	t.Helper()
	if n.srv == nil {
		t.Fatal("clustertest: nats: stop: not running")
	}
	n.shutdown()
}

// Start starts the server again on the same port.
func (n *NATS) Start(t testing.TB) {
	t.Helper()
	if n.srv != nil {
		t.Fatal("clustertest: nats: start: already running")
	}
	if err := n.start(); err != nil {
		t.Fatalf("clustertest: nats: restart on port %d: %v", n.port, err)
	}
}

func (n *NATS) start() error {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, NoSigs: true})
	if err != nil {
		return fmt.Errorf("new server: %w", err)
	}
	fatal := &fatalLog{}
	srv.SetLogger(fatal, false, false)
	srv.Start()
	for deadline := time.Now().Add(natsStartTimeout); ; {
		if srv.ReadyForConnections(pollEvery) {
			n.srv = srv
			return nil
		}
		msg := fatal.get()
		if msg == "" && time.Now().Before(deadline) {
			continue
		}
		srv.Shutdown()
		srv.WaitForShutdown()
		if msg != "" {
			return fmt.Errorf("port %d: %s", n.port, msg)
		}
		return fmt.Errorf("not ready for connections on port %d within %v", n.port, natsStartTimeout)
	}
}

// fatalLog keeps the server's first fatal message (a listen error, such as
// "address already in use") and drops every other log line.
type fatalLog struct {
	mu  sync.Mutex // guards msg
	msg string
}

func (l *fatalLog) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg
}

func (l *fatalLog) Fatalf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msg == "" {
		l.msg = fmt.Sprintf(format, v...)
	}
}
func (*fatalLog) Noticef(string, ...any) {}
func (*fatalLog) Warnf(string, ...any)   {}
func (*fatalLog) Errorf(string, ...any)  {}
func (*fatalLog) Debugf(string, ...any)  {}
func (*fatalLog) Tracef(string, ...any)  {}

func (n *NATS) shutdown() {
	if n.srv == nil {
		return
	}
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	n.srv = nil
}
