package sfu

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pawfect/hub/internal/sfu/sfutest"
)

// The loopback load measurement runs the SFU in a child process (this
// test binary re-executed), so that its CPU time (getrusage of the child)
// is the SFU's alone: the publisher and the N subscribers, which cost as
// much again in SRTP and ICE, run in the parent. Signaling goes over the
// child's stdin and stdout as JSON lines.
var (
	loadCounts = flag.String("sfu.load", "", "subscriber counts for TestLoadLoopback, comma-separated (e.g. 10,50); empty skips it")
	loadAudio  = flag.Bool("sfu.load.audio", true, "TestLoadLoopback: publish Opus besides the VP8 video")
	loadFor    = flag.Duration("sfu.load.for", 10*time.Second, "TestLoadLoopback: measurement window")
)

const loadChildEnv = "SFU_LOAD_CHILD"

type loadMsg struct {
	Op        string          `json:"op,omitempty"`
	Type      string          `json:"type,omitempty"`
	Peer      string          `json:"peer,omitempty"`
	User      string          `json:"user,omitempty"`
	Kind      string          `json:"kind,omitempty"`
	SDP       string          `json:"sdp,omitempty"`
	Candidate json.RawMessage `json:"candidate,omitempty"`
	Err       string          `json:"err,omitempty"`
	// mark
	CPUNanos  int64   `json:"cpu_ns,omitempty"`
	Forwarded int64   `json:"forwarded,omitempty"`
	Mallocs   uint64  `json:"mallocs,omitempty"`
	GCs       uint32  `json:"gcs,omitempty"`
	P50Micros float64 `json:"p50_us,omitempty"`
	P99Micros float64 `json:"p99_us,omitempty"`
	LatCount  int64   `json:"lat_count,omitempty"`
}

// runLoadChild is the SFU side: it serves the JSON-line protocol until
// stdin closes.
func runLoadChild() {
	m := &testMetrics{}
	s, err := New(Config{Loopback: true, Metrics: m})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s.lat = &latency{}
	// SFU_LOAD_CPUPROFILE: the SFU's CPU profile over the measurement
	// window, from the first mark to the second (go tool pprof <binary>
	// path); setup (ICE, DTLS handshakes) is left out.
	cpuProfile := os.Getenv("SFU_LOAD_CPUPROFILE")
	var cpuFile *os.File
	defer func() {
		if cpuFile != nil {
			pprof.StopCPUProfile()
			cpuFile.Close()
		}
	}()
	// SFU_LOAD_MEMPROFILE: every allocation is sampled (which costs CPU:
	// the figures of such a run are not the SFU's), and the profile is
	// written at both marks, to path+".base" at the window's start and to
	// path at its end, for the window's allocations alone:
	// go tool pprof -sample_index=alloc_objects -base path.base <binary> path
	memProfile := os.Getenv("SFU_LOAD_MEMPROFILE")
	if memProfile != "" {
		runtime.MemProfileRate = 1
	}
	writeMemProfile := func(path string) {
		runtime.GC() // the profile is as of the last collection
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(v loadMsg) { mu.Lock(); _ = enc.Encode(v); mu.Unlock() }
	ctx := context.Background()
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var c loadMsg
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			emit(loadMsg{Type: "error", Err: err.Error()})
			continue
		}
		var err error
		switch c.Op {
		case "join":
			peer := c.Peer
			err = s.Join(ctx, JoinRequest{Call: "load", Peer: peer, User: c.User, Kind: c.Kind}, func(sig Signal) {
				emit(loadMsg{Type: sig.Type, Peer: peer, SDP: sig.SDP, Candidate: sig.Candidate})
			})
		case "answer":
			err = s.Answer(ctx, "load", c.Peer, c.SDP)
		case "candidate":
			err = s.Candidate(ctx, "load", c.Peer, c.Candidate)
		case "mark":
			if c.Kind == "reset" {
				for i := range s.lat.buckets {
					s.lat.buckets[i].Store(0)
				}
			}
			switch {
			case cpuProfile != "" && c.Kind == "reset" && cpuFile == nil:
				if f, err := os.Create(cpuProfile); err == nil {
					if pprof.StartCPUProfile(f) == nil {
						cpuFile = f
					} else {
						f.Close()
					}
				}
			case cpuFile != nil && c.Kind != "reset":
				pprof.StopCPUProfile()
				cpuFile.Close()
				cpuFile = nil
			}
			if memProfile != "" {
				path := memProfile
				if c.Kind == "reset" {
					path += ".base"
				}
				writeMemProfile(path)
			}
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			p50, n := s.lat.quantile(0.5)
			p99, _ := s.lat.quantile(0.99)
			emit(loadMsg{
				Type: "mark", CPUNanos: ru.Utime.Nano() + ru.Stime.Nano(), Forwarded: m.forwarded.Load(),
				Mallocs: ms.Mallocs, GCs: ms.NumGC, P50Micros: float64(p50) / 1e3, P99Micros: float64(p99) / 1e3, LatCount: n,
			})
		}
		if err != nil {
			emit(loadMsg{Type: "error", Peer: c.Peer, Err: err.Error()})
		}
	}
	s.Close()
}

// TestLoadLoopback measures the SFU forwarding one publisher's ~1.4 Mbps
// VP8 (150 packets/s of 1,200 bytes) and Opus (50 packets/s) to N Pion
// subscribers on loopback. Run with, e.g. (the package before the
// test's own flags: go test does not know they take a value):
//
//	go test -count=1 -run TestLoadLoopback -v ./internal/sfu -sfu.load 10,50 -sfu.load.for 10s
//
// SFU_LOAD_CPUPROFILE and SFU_LOAD_MEMPROFILE (see runLoadChild) profile
// the SFU over the measurement window.
func TestLoadLoopback(t *testing.T) {
	if *loadCounts == "" {
		t.Skip("set -sfu.load 10,50 to measure")
	}
	for _, f := range strings.Split(*loadCounts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			t.Fatalf("-sfu.load: %q is not a count", f)
		}
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) { loadRun(t, n) })
	}
}

func loadRun(t *testing.T, n int) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loadChildEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wmu sync.Mutex
	enc := json.NewEncoder(stdin)
	send := func(m loadMsg) { wmu.Lock(); _ = enc.Encode(m); wmu.Unlock() }

	var cmu sync.Mutex
	clients := map[string]*sfutest.Client{}
	marks := make(chan loadMsg, 4)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		dec := json.NewDecoder(stdout)
		for {
			var m loadMsg
			if err := dec.Decode(&m); err != nil {
				if err != io.EOF {
					t.Logf("child: %v", err)
				}
				return
			}
			cmu.Lock()
			c := clients[m.Peer]
			cmu.Unlock()
			switch m.Type {
			case "offer":
				ans, err := c.HandleOffer(m.SDP)
				if err != nil {
					t.Errorf("%s: %v", m.Peer, err)
					continue
				}
				send(loadMsg{Op: "answer", Peer: m.Peer, SDP: ans})
			case "candidate":
				_ = c.HandleCandidate(m.Candidate)
			case "mark":
				marks <- m
			case "error":
				t.Errorf("child: %s: %s", m.Peer, m.Err)
			}
		}
	}()
	newClient := func(peer string) *sfutest.Client {
		c, err := sfutest.New(sfutest.Options{KeepPackets: -1, OnCandidate: func(raw json.RawMessage) {
			send(loadMsg{Op: "candidate", Peer: peer, Candidate: raw})
		}})
		if err != nil {
			t.Fatal(err)
		}
		cmu.Lock()
		clients[peer] = c
		cmu.Unlock()
		return c
	}
	defer func() {
		cmu.Lock()
		for _, c := range clients {
			c.Close()
		}
		cmu.Unlock()
		stdin.Close()
		<-readDone
		_ = cmd.Wait()
	}()

	pub := newClient("pub")
	if *loadAudio {
		if _, err := pub.PublishOpus(sfutest.SourceOptions{ID: "mic", StreamID: "pub"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pub.PublishVP8(sfutest.SourceOptions{ID: "cam", StreamID: "pub", FPS: 30, PacketsPerFrame: 5, PacketSize: 1200}); err != nil {
		t.Fatal(err)
	}
	send(loadMsg{Op: "join", Peer: "pub", User: "pub", Kind: "video"})
	subs := make([]*sfutest.Client, n)
	for i := range n {
		peer := fmt.Sprintf("sub%d", i)
		subs[i] = newClient(peer)
		send(loadMsg{Op: "join", Peer: peer, User: peer, Kind: "audio"})
	}
	counts := func() (video, audio int64) {
		for _, c := range subs {
			if s, ok := c.Track("pub:camera"); ok {
				video += s.Count
			}
			if s, ok := c.Track("pub:microphone"); ok {
				audio += s.Count
			}
		}
		return video, audio
	}
	eventually(t, "every subscriber receiving", func() bool {
		for _, c := range subs {
			if s, ok := c.Track("pub:camera"); !ok || s.Count < 30 {
				return false
			}
		}
		return true
	})
	time.Sleep(2 * time.Second) // warm up: the first PLIs and keyframes are past
	send(loadMsg{Op: "mark", Kind: "reset"})
	m0 := <-marks
	v0, a0 := counts()
	start := time.Now()
	time.Sleep(*loadFor)
	send(loadMsg{Op: "mark"})
	m1 := <-marks
	v1, a1 := counts()
	el := time.Since(start).Seconds()

	fwd := m1.Forwarded - m0.Forwarded
	cpu := m1.CPUNanos - m0.CPUNanos
	t.Logf("N=%d subscribers, %.0f s: SFU forwarded %d packets (%.0f/s); subscribers received video %.0f/s, audio %.0f/s",
		n, el, fwd, float64(fwd)/el, float64(v1-v0)/el, float64(a1-a0)/el)
	t.Logf("SFU CPU (child process, getrusage): %.2f µs per forwarded packet, %.1f%% of one core; %.1f allocations per forwarded packet (the whole process: Pion's receive interceptors, ICE, RTCP)",
		float64(cpu)/1e3/float64(fwd), float64(cpu)/1e9/el*100, float64(m1.Mallocs-m0.Mallocs)/float64(fwd))
	t.Logf("GC cycles in the window: %d (the allocations' cost)", m1.GCs-m0.GCs)
	t.Logf("forwarding latency (read → written), %d packets: p50 %.0f µs, p99 %.0f µs (10 µs buckets)", m1.LatCount, m1.P50Micros, m1.P99Micros)
}
