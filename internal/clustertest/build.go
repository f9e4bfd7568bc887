package clustertest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// builds are the commands built for this test binary. It is package state
// on purpose: each build is shared by every test of the binary (one build,
// not one per test), and M removes them when they are done.
var builds = binaries{byPkg: map[string]*binary{}}

type binaries struct {
	mu    sync.Mutex         // guards every field, and every binary's
	byPkg map[string]*binary // "./cmd/hub" → its build
	inM   bool               // M is running the tests, so the builds will be removed
}

type binary struct {
	dir  string // temporary directory holding the binary
	path string
	err  error
}

// Main runs a test binary's tests and then removes the hub binary built
// for them. Get one from M.
type Main struct{ m *testing.M }

// M wraps m for TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(clustertest.M(m).Run()) }
//
// It also fits goleak.VerifyTestMain(clustertest.M(m)).
func M(m *testing.M) Main { return Main{m: m} }

// Run runs the tests and removes the binaries; it returns m.Run's code.
func (mm Main) Run() int {
	builds.mu.Lock()
	builds.inM = true
	builds.mu.Unlock()
	code := mm.m.Run()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	for pkg, b := range builds.byPkg {
		if b.dir == "" {
			continue
		}
		if err := os.RemoveAll(b.dir); err != nil {
			fmt.Fprintf(os.Stderr, "clustertest: remove the %s binary: %v\n", pkg, err)
		}
	}
	builds.byPkg = map[string]*binary{}
	return code
}

// hubPath returns the hub binary, building it on first use.
func hubPath(t testing.TB) string { return binaryPath(t, "./cmd/hub") }

// sfuPath returns the SFU node binary, building it on first use.
func sfuPath(t testing.TB) string { return binaryPath(t, "./cmd/sfu") }

// binaryPath returns the binary of the command pkg, building it on first
// use. The build error, if any, is kept: later tests fail the same way
// without building again.
func binaryPath(t testing.TB, pkg string) string {
	t.Helper()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if !builds.inM {
		t.Fatal("clustertest: call clustertest.M from TestMain: os.Exit(clustertest.M(m).Run())")
	}
	b := builds.byPkg[pkg]
	if b == nil {
		b = &binary{}
		builds.byPkg[pkg] = b
		start := time.Now()
		b.dir, b.path, b.err = build(pkg)
		t.Logf("clustertest: built %s (race=%v) in %v", pkg, raceEnabled, time.Since(start).Round(time.Millisecond))
	}
	if b.err != nil {
		t.Fatalf("clustertest: build %s: %v", pkg, b.err)
	}
	return b.path
}

func build(pkg string) (dir, path string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("find the go command: %w", err)
	}
	name := filepath.Base(pkg)
	dir, err = os.MkdirTemp("", "clustertest-"+name+"-")
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, name)
	args := []string{"build", "-o", path}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, pkg)
	cmd := exec.Command(goBin, args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return "", "", fmt.Errorf("go %v in %s: %w\n%s", args, root, err, out)
	}
	return dir, path, nil
}

// moduleRoot is the nearest directory at or above the working directory
// (the test's package directory) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}
