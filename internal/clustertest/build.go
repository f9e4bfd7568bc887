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

// hubBinary is the hub built for this test binary. It is package state on
// purpose: the build is shared by every test of the binary (one build, not
// one per test), and M removes it when they are done.
var hubBinary binary

type binary struct {
	mu    sync.Mutex // guards every field
	dir   string     // temporary directory holding the binary
	path  string
	err   error
	built bool
	inM   bool // M is running the tests, so the directory will be removed
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

// Run runs the tests and removes the hub binary; it returns m.Run's code.
func (mm Main) Run() int {
	hubBinary.mu.Lock()
	hubBinary.inM = true
	hubBinary.mu.Unlock()
	code := mm.m.Run()
	hubBinary.mu.Lock()
	defer hubBinary.mu.Unlock()
	if hubBinary.dir != "" {
		if err := os.RemoveAll(hubBinary.dir); err != nil {
			fmt.Fprintf(os.Stderr, "clustertest: remove the hub binary: %v\n", err)
		}
		hubBinary.dir, hubBinary.path, hubBinary.built = "", "", false
	}
	return code
}

// hubPath returns the hub binary, building it on first use. The build
// error, if any, is kept: later tests fail the same way without building
// again.
func hubPath(t testing.TB) string {
	t.Helper()
	hubBinary.mu.Lock()
	defer hubBinary.mu.Unlock()
	if !hubBinary.inM {
		t.Fatal("clustertest: call clustertest.M from TestMain: os.Exit(clustertest.M(m).Run())")
	}
	if !hubBinary.built {
		hubBinary.built = true
		start := time.Now()
		hubBinary.dir, hubBinary.path, hubBinary.err = build()
		t.Logf("clustertest: built ./cmd/hub (race=%v) in %v", raceEnabled, time.Since(start).Round(time.Millisecond))
	}
	if hubBinary.err != nil {
		t.Fatalf("clustertest: build ./cmd/hub: %v", hubBinary.err)
	}
	return hubBinary.path
}

func build() (dir, path string, err error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", "", fmt.Errorf("find the go command: %w", err)
	}
	dir, err = os.MkdirTemp("", "clustertest-hub-")
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "hub")
	args := []string{"build", "-o", path}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/hub")
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
