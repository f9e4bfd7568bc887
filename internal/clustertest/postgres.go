package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgStartTimeout bounds a private PostgreSQL's start-up (crash recovery
// included) until it accepts connections.
const pgStartTimeout = 60 * time.Second

// Postgres is a private PostgreSQL server owned by one test: initdb and
// postgres from the machine's install, its data and unix socket in a
// temporary directory, listening on a free loopback port. The test may stop
// it and start it again on the same port and data while hubs use it. It is
// stopped and its directory removed at cleanup.
type Postgres struct {
	URL string // postgres://postgres@127.0.0.1:port/postgres, the same across restarts

	bin     string // directory of postgres and initdb
	dir     string // holds data/, the socket and postgres.log
	port    int
	cred    *syscall.Credential // the postgres OS user when the test runs as root
	proc    *process            // nil while stopped
	logPath string
}

// StartPostgres initializes and starts a private PostgreSQL. Without the
// binaries (a glob of /usr/lib/postgresql/*/bin, then $PATH) the test is
// skipped, or failed under HUB_TEST_REQUIRE_SERVICES=1.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		skipOrFail(t, "a private PostgreSQL: "+err.Error())
	}
	p := &Postgres{bin: bin}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root; so does postgres.
		if p.cred, err = osUser("postgres"); err != nil {
			skipOrFail(t, "a private PostgreSQL started as root needs the postgres OS user: "+err.Error())
		}
	}
	// Not t.TempDir: its parent is private to root, and the server runs as
	// another user.
	if p.dir, err = os.MkdirTemp("", "clustertest-pg-"); err != nil {
		t.Fatalf("clustertest: postgres: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(p.dir) }) // runs after the stop below
	p.logPath = filepath.Join(p.dir, "postgres.log")
	if p.cred != nil {
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatalf("clustertest: postgres: chown %s: %v", p.dir, err)
		}
	}
	initdb := p.command(filepath.Join(bin, "initdb"), "-D", p.dataDir(), "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("clustertest: postgres: initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if p.proc != nil {
			p.signal(syscall.SIGQUIT) // immediate shutdown: the data is thrown away
		}
		if t.Failed() {
			if b, err := os.ReadFile(p.logPath); err == nil {
				t.Logf("clustertest: log of the private PostgreSQL:\n%s", tail(b, logTail))
			}
		}
	})
	for range 3 {
		if p.port, err = freePort(); err != nil {
			t.Fatalf("clustertest: postgres: pick a port: %v", err)
		}
		p.URL = fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", loopback(p.port))
		if err = p.start(); err == nil || !p.addressInUse() {
			break
		}
	}
	if err != nil {
		t.Fatalf("clustertest: postgres: %v", err)
	}
	return p
}

// Stop shuts the server down with a fast shutdown (SIGINT: sessions are
// ended, open transactions roll back) and waits for it to exit.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if p.proc == nil {
		t.Fatal("clustertest: postgres: stop: not running")
	}
	if err := p.signal(syscall.SIGINT); err != nil {
		t.Errorf("clustertest: postgres: fast shutdown: %v", err)
	}
}

// Start starts the server again on the same port and data and waits until
// it accepts connections.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if p.proc != nil {
		t.Fatal("clustertest: postgres: start: already running")
	}
	if err := p.start(); err != nil {
		t.Fatalf("clustertest: postgres: restart on port %d: %v", p.port, err)
	}
}

func (p *Postgres) dataDir() string { return filepath.Join(p.dir, "data") }

// command runs name as the server's OS user.
func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	return cmd
}

func (p *Postgres) start() error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== clustertest: starting postgres on port %d at %s ===\n", p.port, time.Now().Format(time.RFC3339Nano))
	cmd := p.command(filepath.Join(p.bin, "postgres"), "-D", p.dataDir(),
		"-p", strconv.Itoa(p.port), "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1",
		// The data lives for one test; a durable disk flush buys nothing
		// (a fast shutdown or a killed server loses nothing the OS holds).
		"-c", "fsync=off",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	// SIGQUIT is PostgreSQL's immediate shutdown: its children go too.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	proc := &process{cmd: cmd, exited: make(chan struct{})}
	go func() { // owned by p: every path that drops p.proc waits for exited
		proc.err = cmd.Wait()
		close(proc.exited)
	}()
	p.proc = proc
	deadline := time.Now().Add(pgStartTimeout)
	for {
		if p.accepts() {
			return nil
		}
		select {
		case <-proc.exited:
			p.proc = nil
			return fmt.Errorf("postgres exited during start-up: %v (log: %s)", proc.err, p.logPath)
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not accepting connections within %v (log: %s)", pgStartTimeout, p.logPath)
		}
	}
}

// accepts reports whether a connection and a query succeed right now.
func (p *Postgres) accepts() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx) == nil
}

// signal sends sig to the postmaster and waits for it to exit, killing it
// after stopTimeout.
func (p *Postgres) signal(sig syscall.Signal) error {
	proc := p.proc
	defer func() { p.proc = nil }()
	_ = proc.cmd.Process.Signal(sig)
	select {
	case <-proc.exited:
		return proc.err
	case <-time.After(stopTimeout):
	}
	_ = proc.cmd.Process.Kill()
	<-proc.exited
	return fmt.Errorf("did not exit within %v of %v; killed", stopTimeout, sig)
}

func (p *Postgres) addressInUse() bool {
	b, err := os.ReadFile(p.logPath)
	return err == nil && strings.Contains(string(b), "already in use")
}

// postgresBin finds the directory holding postgres and initdb: the newest
// /usr/lib/postgresql/<version>/bin (Debian's layout), else $PATH.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "postgres")) && isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	if pg, err := exec.LookPath("postgres"); err == nil {
		d := filepath.Dir(pg)
		if isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", errors.New("no postgres and initdb found in /usr/lib/postgresql/*/bin or $PATH")
}

// pgVersion is the major version in /usr/lib/postgresql/<version>/bin.
func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// osUser returns the credential of the named OS user.
func osUser(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// skipOrFail skips the test for want, or fails it under
// HUB_TEST_REQUIRE_SERVICES=1.
func skipOrFail(t testing.TB, want string) {
	t.Helper()
	if os.Getenv("HUB_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("clustertest: this test needs %s, and HUB_TEST_REQUIRE_SERVICES=1", want)
	}
	t.Skipf("clustertest: skipping: this test needs %s", want)
}
