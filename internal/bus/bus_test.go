package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/natstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitFor = 5 * time.Second

// backend is one way of reaching NATS: embedded, or the real server named
// by HUB_TEST_NATS_URL.
type backend struct {
	name string
	url  string
}

func backends() []backend {
	return []backend{
		{name: "embedded"},
		{name: "nats", url: os.Getenv("HUB_TEST_NATS_URL")},
	}
}

// requireBackend skips a test needing the real NATS when it is not
// configured, or fails it when HUB_TEST_REQUIRE_SERVICES=1.
func requireBackend(t *testing.T, be backend) {
	t.Helper()
	if be.name != "embedded" {
		natstest.URL(t)
	}
}

// uniquePrefix keeps runs against a shared NATS apart.
func uniquePrefix(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "test" + hex.EncodeToString(b[:])
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openBus(t *testing.T, be backend, o Options) *Bus {
	t.Helper()
	requireBackend(t, be)
	o.URL = be.url
	if o.Prefix == "" {
		o.Prefix = uniquePrefix(t)
	}
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	if o.Name == "" {
		o.Name = "bus-test"
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	b, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// forEachBackend runs fn as a subtest against every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, be backend)) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			requireBackend(t, be)
			fn(t, be)
		})
	}
}

func ping(t *testing.T, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := b.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func recv(t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(waitFor):
		t.Fatal("no message within", waitFor)
		return nil
	}
}

func TestPubSubRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, Options{})
		tests := []struct {
			name    string
			subject string
			data    []byte
		}{
			{"room msg", b.RoomMsg("r1"), []byte(`{"seq":1}`)},
			{"room eph", b.RoomEph("r1"), []byte(`{"type":"typing"}`)},
			{"room ctl", b.RoomCtl("r1"), []byte("ctl")},
			{"user", b.User("u1"), []byte("hello")},
			{"node", b.Node("n1"), []byte{0, 1, 2}},
			{"nodes", b.Nodes(), []byte{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ch := make(chan []byte, 1)
				sub, err := b.Subscribe(tt.subject, func(d []byte) { ch <- d })
				if err != nil {
					t.Fatalf("Subscribe: %v", err)
				}
				defer sub.Unsubscribe()
				ping(t, b)
				if err := b.Publish(context.Background(), tt.subject, tt.data); err != nil {
					t.Fatalf("Publish: %v", err)
				}
				if got := recv(t, ch); string(got) != string(tt.data) {
					t.Fatalf("got %q, want %q", got, tt.data)
				}
			})
		}
	})
}

func TestTwoBusesSharePrefix(t *testing.T) {
	// Only meaningful on a real server: two clients, one service.
	be := backend{name: "nats", url: os.Getenv("HUB_TEST_NATS_URL")}
	prefix := uniquePrefix(t)
	a := openBus(t, be, Options{Prefix: prefix})
	b := openBus(t, be, Options{Prefix: prefix})
	ch := make(chan []byte, 1)
	sub, err := b.Subscribe(b.Nodes(), func(d []byte) { ch <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ping(t, b)
	if err := a.Publish(context.Background(), a.Nodes(), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, ch); string(got) != "hi" {
		t.Fatalf("got %q, want %q", got, "hi")
	}
}

func TestOrderingPerSubscription(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, Options{})
		const n = 2000
		subject := b.RoomMsg("order")
		var (
			mu   sync.Mutex
			got  []int
			done = make(chan struct{})
			busy atomic.Int32
		)
		sub, err := b.Subscribe(subject, func(d []byte) {
			if busy.Add(1) != 1 {
				t.Error("handler ran concurrently with itself")
			}
			defer busy.Add(-1)
			var i int
			fmt.Sscanf(string(d), "%d", &i)
			mu.Lock()
			got = append(got, i)
			if len(got) == n {
				close(done)
			}
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		ping(t, b)
		for i := range n {
			if err := b.Publish(context.Background(), subject, fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-done:
		case <-time.After(waitFor):
			mu.Lock()
			t.Fatalf("got %d messages, want %d", len(got), n)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, v := range got {
			if v != i {
				t.Fatalf("message %d: got %d, want %d", i, v, i)
			}
		}
	})
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, Options{})
		subject := b.RoomEph("unsub")
		first := make(chan []byte, 10)
		barrier := make(chan []byte, 10)
		sub, err := b.Subscribe(subject, func(d []byte) { first <- d })
		if err != nil {
			t.Fatal(err)
		}
		bsub, err := b.Subscribe(subject, func(d []byte) { barrier <- d })
		if err != nil {
			t.Fatal(err)
		}
		defer bsub.Unsubscribe()
		ping(t, b)

		if err := b.Publish(context.Background(), subject, []byte("one")); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, first); string(got) != "one" {
			t.Fatalf("got %q, want %q", got, "one")
		}
		recv(t, barrier)

		if err := sub.Unsubscribe(); err != nil {
			t.Fatalf("Unsubscribe: %v", err)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Fatalf("second Unsubscribe: got %v, want nil", err)
		}
		if err := b.Publish(context.Background(), subject, []byte("two")); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, barrier); string(got) != "two" {
			t.Fatalf("barrier got %q, want %q", got, "two")
		}
		ping(t, b)
		select {
		case d := <-first:
			t.Fatalf("unsubscribed handler got %q", d)
		case <-time.After(50 * time.Millisecond):
		}
	})
}

func TestRequestReply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, Options{})
		echo := b.Node("echo")
		silent := b.Node("silent")
		noReply := make(chan error, 1)

		sub, err := b.QueueSubscribe(echo, "workers", func(subject string, data []byte, reply func([]byte) error) {
			if string(data) == "no-reply-expected" {
				noReply <- reply([]byte("x"))
				return
			}
			if err := reply(append([]byte(subject+":"), data...)); err != nil {
				t.Errorf("reply: %v", err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		ssub, err := b.QueueSubscribe(silent, "workers", func(string, []byte, func([]byte) error) {})
		if err != nil {
			t.Fatal(err)
		}
		defer ssub.Unsubscribe()
		ping(t, b)

		tests := []struct {
			name     string
			subject  string
			timeout  time.Duration
			want     string
			wantErr  error
			maxDelay time.Duration
		}{
			{name: "answered", subject: echo, timeout: waitFor, want: echo + ":ping", maxDelay: waitFor},
			{name: "deadline", subject: silent, timeout: 100 * time.Millisecond, wantErr: context.DeadlineExceeded, maxDelay: 2 * time.Second},
			{name: "no responders", subject: b.Node("nobody"), timeout: waitFor, wantErr: ErrNoResponders, maxDelay: 2 * time.Second},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
				defer cancel()
				start := time.Now()
				got, err := b.Request(ctx, tt.subject, []byte("ping"))
				if elapsed := time.Since(start); elapsed > tt.maxDelay {
					t.Errorf("took %s, want at most %s", elapsed, tt.maxDelay)
				}
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("got err %v, want %v", err, tt.wantErr)
					}
					if !strings.HasPrefix(err.Error(), "bus: request ") {
						t.Errorf("error %q lacks the op prefix", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Request: %v", err)
				}
				if string(got) != tt.want {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			})
		}

		t.Run("reply without reply subject", func(t *testing.T) {
			if err := b.Publish(context.Background(), echo, []byte("no-reply-expected")); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-noReply:
				if err == nil {
					t.Fatal("reply with no reply subject: got nil error")
				}
			case <-time.After(waitFor):
				t.Fatal("handler not called")
			}
		})
	})
}

func TestBadSubjects(t *testing.T) {
	b := openBus(t, backend{name: "embedded"}, Options{})
	ctx := context.Background()
	tests := []struct {
		name    string
		subject string
		pubOK   bool
		subOK   bool
	}{
		{"literal", "hub.room.a.msg", true, true},
		{"empty", "", false, false},
		{"empty token", "hub..msg", false, false},
		{"trailing dot", "hub.room.", false, false},
		{"space", "hub.room a", false, false},
		{"star", "hub.room.*.msg", false, true},
		{"full wildcard", "hub.room.>", false, true},
		{"gt not last", "hub.>.msg", false, false},
		{"star inside token", "hub.ro*m", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Publish(ctx, tt.subject, nil)
			if got := err == nil; got != tt.pubOK {
				t.Errorf("Publish(%q): got err %v, want ok=%v", tt.subject, err, tt.pubOK)
			}
			if !tt.pubOK && !errors.Is(err, ErrBadSubject) {
				t.Errorf("Publish(%q): got %v, want ErrBadSubject", tt.subject, err)
			}
			if !tt.pubOK {
				if _, err := b.Request(ctx, tt.subject, nil); !errors.Is(err, ErrBadSubject) {
					t.Errorf("Request(%q): got %v, want ErrBadSubject", tt.subject, err)
				}
			}
			sub, err := b.Subscribe(tt.subject, func([]byte) {})
			if got := err == nil; got != tt.subOK {
				t.Errorf("Subscribe(%q): got err %v, want ok=%v", tt.subject, err, tt.subOK)
			}
			if sub != nil {
				sub.Unsubscribe()
			}
		})
	}
	if _, err := b.QueueSubscribe("hub.x", "bad.queue", func(string, []byte, func([]byte) error) {}); !errors.Is(err, ErrBadSubject) {
		t.Errorf("QueueSubscribe with bad queue: got %v, want ErrBadSubject", err)
	}
}

func TestOpenErrors(t *testing.T) {
	// A port nobody listens on: grab one, then free it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	tests := []struct {
		name    string
		opts    Options
		wantErr error
		want    string // substring of the error
		notWant string
	}{
		{name: "refused", opts: Options{URL: "nats://" + dead}, wantErr: chat.ErrUnavailable, want: "bus: connect nats://" + dead},
		{name: "password redacted", opts: Options{URL: "nats://alice:s3cret@" + dead}, wantErr: chat.ErrUnavailable, want: "bus: connect", notWant: "s3cret"},
		{name: "token redacted", opts: Options{URL: "nats://t0ken@" + dead}, wantErr: chat.ErrUnavailable, want: "bus: connect", notWant: "t0ken"},
		{name: "bad prefix", opts: Options{Prefix: "hub.*"}, wantErr: ErrBadSubject, want: "bus: open"},
		{name: "empty prefix token", opts: Options{Prefix: "hub..x"}, wantErr: ErrBadSubject, want: "bus: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Logger = quietLogger()
			tt.opts.ConnectTimeout = 2 * time.Second
			start := time.Now()
			b, err := Open(context.Background(), tt.opts)
			if err == nil {
				b.Close()
				t.Fatal("Open: got nil error")
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("Open took %s to fail", time.Since(start))
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want it to wrap %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("error %q leaks %q", err, tt.notWant)
			}
		})
	}

	t.Run("cancelled ctx", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Open(ctx, Options{Logger: quietLogger()}); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
}

func TestCloseThenUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		b := openBus(t, be, Options{})
		if !b.Connected() {
			t.Fatal("Connected: got false after Open")
		}
		if got, want := b.Embedded(), be.url == ""; got != want {
			t.Errorf("Embedded: got %v, want %v", got, want)
		}
		sub, err := b.Subscribe(b.Nodes(), func([]byte) {})
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		b.Close() // idempotent
		if b.Connected() {
			t.Error("Connected: got true after Close")
		}
		ctx := context.Background()
		if err := b.Publish(ctx, b.Nodes(), nil); !errors.Is(err, chat.ErrUnavailable) {
			t.Errorf("Publish after Close: got %v, want chat.ErrUnavailable", err)
		}
		if err := b.Ping(ctx); !errors.Is(err, chat.ErrUnavailable) {
			t.Errorf("Ping after Close: got %v, want chat.ErrUnavailable", err)
		}
		if _, err := b.Request(ctx, b.Nodes(), nil); !errors.Is(err, chat.ErrUnavailable) {
			t.Errorf("Request after Close: got %v, want chat.ErrUnavailable", err)
		}
		if _, err := b.Subscribe(b.Nodes(), func([]byte) {}); !errors.Is(err, chat.ErrUnavailable) {
			t.Errorf("Subscribe after Close: got %v, want chat.ErrUnavailable", err)
		}
		if err := sub.Unsubscribe(); err != nil {
			t.Errorf("Unsubscribe after Close: got %v, want nil", err)
		}
	})
}

func TestSlowConsumer(t *testing.T) {
	slow := make(chan string, 10)
	b := openBus(t, backend{name: "embedded"}, Options{
		PendingMsgsLimit: 2,
		OnSlowConsumer:   func(subject string) { slow <- subject },
	})
	subject := b.RoomMsg("slow")
	release := make(chan struct{})
	sub, err := b.Subscribe(subject, func([]byte) { <-release })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	defer close(release)
	ping(t, b)
	for range 20 {
		if err := b.Publish(context.Background(), subject, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case got := <-slow:
		if got != subject {
			t.Fatalf("OnSlowConsumer: got %q, want %q", got, subject)
		}
	case <-time.After(waitFor):
		t.Fatal("OnSlowConsumer not called")
	}
}

// startTCPServer starts a nats-server on 127.0.0.1 (port 0 picks one).
func startTCPServer(t *testing.T, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = server.RANDOM_PORT
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(waitFor) {
		ns.Shutdown()
		t.Fatal("nats-server not ready")
	}
	return ns
}

func stopServer(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}

func TestOnReconnect(t *testing.T) {
	ns := startTCPServer(t, 0)
	port := ns.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	var current atomic.Pointer[server.Server]
	current.Store(ns)
	t.Cleanup(func() { stopServer(current.Load()) })

	reconnected := make(chan struct{}, 1)
	b := openBus(t, backend{name: "tcp", url: url}, Options{
		ReconnectWait: 50 * time.Millisecond,
		OnReconnect: func() {
			select {
			case reconnected <- struct{}{}:
			default:
			}
		},
	})
	got := make(chan []byte, 10)
	sub, err := b.Subscribe(b.RoomMsg("r"), func(d []byte) { got <- d })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ping(t, b)

	stopServer(ns)
	eventually(t, func() bool { return !b.Connected() }, "bus still connected after server shutdown")

	ctx := context.Background()
	start := time.Now()
	if err := b.Publish(ctx, b.RoomMsg("r"), []byte("lost")); !errors.Is(err, chat.ErrUnavailable) {
		t.Errorf("Publish while down: got %v, want chat.ErrUnavailable", err)
	}
	if err := b.Ping(ctx); !errors.Is(err, chat.ErrUnavailable) {
		t.Errorf("Ping while down: got %v, want chat.ErrUnavailable", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("failing while down took %s, want it fast", time.Since(start))
	}

	ns2 := startTCPServer(t, port)
	current.Store(ns2)
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("OnReconnect not called")
	}
	if !b.Connected() {
		t.Fatal("Connected: got false after OnReconnect")
	}
	ping(t, b)
	if err := b.Publish(ctx, b.RoomMsg("r"), []byte("back")); err != nil {
		t.Fatalf("Publish after reconnect: %v", err)
	}
	if d := recv(t, got); string(d) != "back" {
		t.Fatalf("got %q, want %q", d, "back")
	}
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseWhileDisconnected(t *testing.T) {
	ns := startTCPServer(t, 0)
	url := fmt.Sprintf("nats://127.0.0.1:%d", ns.Addr().(*net.TCPAddr).Port)
	b := openBus(t, backend{name: "tcp", url: url}, Options{ReconnectWait: 50 * time.Millisecond})
	if _, err := b.Subscribe(b.Nodes(), func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	stopServer(ns)
	eventually(t, func() bool { return !b.Connected() }, "bus still connected after server shutdown")
	start := time.Now()
	b.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close while reconnecting took %s", d)
	}
}
