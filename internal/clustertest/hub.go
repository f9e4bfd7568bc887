package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Time limits of the harness. They bound waits so a broken hub fails the
// test with its log instead of hanging it; none is a performance claim.
const (
	// ReadyTimeout bounds a hub's start-up until /readyz answers 200
	// (PostgreSQL migrations and a -race binary included).
	ReadyTimeout = 60 * time.Second
	// stopTimeout bounds a graceful stop; the hub's own drain is shorter.
	stopTimeout = 30 * time.Second
	// pollEvery is the period of every readiness poll.
	pollEvery = 50 * time.Millisecond
)

// Hub is one hub process of a Cluster. Its address, node ID and data
// directory stay the same across restarts.
type Hub struct {
	Index   int
	NodeID  string
	URL     string // http://127.0.0.1:port
	Addr    string // 127.0.0.1:port
	DataDir string
	LogPath string // the process's stdout and stderr, every run appended

	bin  string
	env  []string
	name string // "hub0", "sfu0": how logs and errors name it

	proc *process // nil when not running
}

// process is one run of the hub binary.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returned
	err    error         // cmd.Wait's result, set before exited is closed
}

func (h *Hub) label() string {
	if h.name != "" {
		return h.name
	}
	return fmt.Sprintf("hub%d", h.Index)
}

// Running reports whether the hub's process is running (started and not
// yet reaped).
func (h *Hub) Running() bool {
	if h.proc == nil {
		return false
	}
	select {
	case <-h.proc.exited:
		return false
	default:
		return true
	}
}

// start launches the process and waits until /readyz answers 200.
func (h *Hub) start() error {
	if err := h.launch(); err != nil {
		return err
	}
	return h.waitReady(ReadyTimeout)
}

// launch starts the process without waiting for it to be ready.
func (h *Hub) launch() error {
	if h.Running() {
		return fmt.Errorf("%s is already running", h.label())
	}
	logf, err := os.OpenFile(h.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	fmt.Fprintf(logf, "=== clustertest: starting %s (node %s) on %s at %s ===\n",
		h.label(), h.NodeID, h.Addr, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(h.bin)
	cmd.Env = h.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the test binary dies without its cleanups (a panic, a timeout),
	// the kernel kills the hub too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", h.label(), err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() { // owned by h: every path that drops h.proc waits for exited
		p.err = cmd.Wait()
		close(p.exited)
	}()
	h.proc = p
	return nil
}

// waitReady polls /readyz until h itself answers 200, the process exits or
// timeout passes. The node must match: a port picked by freePort can be
// taken by another test's hub before h binds it, and that hub's 200 says
// nothing about h.
func (h *Hub) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if node, ok := readyNode(h.URL); ok && node == h.NodeID {
			return nil
		}
		select {
		case <-h.proc.exited:
			return fmt.Errorf("%s exited during start-up: %v", h.label(), h.proc.err)
		case <-time.After(pollEvery):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: /readyz not 200 within %v", h.label(), timeout)
		}
	}
}

// Ready reports whether GET url/readyz answers 200 right now.
func Ready(url string) bool {
	_, ok := readyNode(url)
	return ok
}

// readyNode asks url/readyz and returns the node that answered and whether
// it said 200.
func readyNode(url string) (node string, ready bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
	if err != nil {
		return "", false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var body struct {
		Node string `json:"node"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	return body.Node, resp.StatusCode == http.StatusOK
}

// signal sends sig to the running process and waits until it is reaped,
// SIGKILLing it after timeout. It returns the exit error (nil for exit 0)
// and whether it had to kill.
func (h *Hub) signal(sig syscall.Signal, timeout time.Duration) (exitErr error, forced bool) {
	p := h.proc
	if p == nil {
		return nil, false
	}
	defer func() { h.proc = nil }()
	_ = p.cmd.Process.Signal(sig) // fails only if it already exited
	select {
	case <-p.exited:
		return p.err, false
	case <-time.After(timeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return p.err, true
}

// addressInUse reports whether the last run's log says the port was taken.
func (h *Hub) addressInUse() bool {
	b, err := os.ReadFile(h.LogPath)
	return err == nil && bytes.Contains(b, []byte("address already in use"))
}

// freePort returns a loopback TCP port that was free a moment ago. Another
// process may take it before it is used; callers retry on "address already
// in use".
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// isSignaled reports whether a Wait error says the process died of sig.
func isSignaled(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}
