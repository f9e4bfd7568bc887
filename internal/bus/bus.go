package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/pawfect/hub/internal/chat"
)

// Defaults for zero Options fields.
const (
	DefaultPrefix            = "hub"
	DefaultConnectTimeout    = 5 * time.Second
	DefaultReconnectWait     = 2 * time.Second
	DefaultDrainTimeout      = 5 * time.Second
	DefaultRequestTimeout    = 5 * time.Second
	DefaultPendingMsgsLimit  = 1 << 20   // messages queued per subscription
	DefaultPendingBytesLimit = 256 << 20 // bytes queued per subscription
)

// Options configure Open. The zero value opens an embedded server.
type Options struct {
	// URL is a NATS server URL, or a comma-separated list of them. Empty
	// starts an embedded nats-server in-process with no listener.
	URL string
	// Name is the client connection name shown by the NATS server.
	Name string
	// Prefix is the first token(s) of every subject; default "hub".
	Prefix string
	// Logger receives the bus's logs (and the embedded server's); default
	// slog.Default().
	Logger *slog.Logger

	// OnReconnect is called after the client has reconnected, so the caller
	// can repair what it missed while the link was down.
	OnReconnect func()
	// OnSlowConsumer is called with a subscription's subject when NATS
	// dropped messages for it because its handler fell behind.
	OnSlowConsumer func(subject string)

	// ConnectTimeout bounds the first connect (and the embedded server's
	// start-up); default DefaultConnectTimeout. A sooner ctx deadline given
	// to Open wins.
	ConnectTimeout time.Duration
	// ReconnectWait is the pause between reconnect attempts; default
	// DefaultReconnectWait.
	ReconnectWait time.Duration
	// DrainTimeout bounds Close's drain; default DefaultDrainTimeout.
	DrainTimeout time.Duration
	// RequestTimeout applies to Request and Ping when ctx has no deadline;
	// default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// PendingMsgsLimit and PendingBytesLimit bound each subscription's queue
	// of undelivered messages; defaults DefaultPendingMsgsLimit and
	// DefaultPendingBytesLimit.
	PendingMsgsLimit  int
	PendingBytesLimit int
}

// Bus is a connection to NATS, and the embedded server when it runs one.
type Bus struct {
	nc     *nats.Conn
	ns     *server.Server // nil when connected by URL
	prefix string
	log    *slog.Logger
	opts   Options

	closed    chan struct{} // closed by nats.go's ClosedHandler
	closedOne sync.Once     // guards closing closed
	closeOnce sync.Once     // makes Close idempotent

	gather gatherMux // the replies of every Gather, on one subscription
}

// Open connects to NATS (or starts an embedded server) and returns the Bus.
// With a URL the first connect must succeed; later losses are reconnected
// forever.
func Open(ctx context.Context, o Options) (*Bus, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bus: open: %w", err)
	}
	o = withDefaults(o)
	if !validPrefix(o.Prefix) {
		return nil, fmt.Errorf("bus: open: prefix %q: %w", o.Prefix, ErrBadSubject)
	}
	timeout := o.ConnectTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}

	b := &Bus{
		prefix: o.Prefix,
		log:    o.Logger.With("component", "bus"),
		opts:   o,
		closed: make(chan struct{}),
	}
	natsOpts := []nats.Option{
		nats.Name(o.Name),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(o.ReconnectWait),
		nats.RetryOnFailedConnect(false),
		// Publishing while reconnecting fails at once; see doc.go.
		nats.ReconnectBufSize(-1),
		nats.DrainTimeout(o.DrainTimeout),
		nats.DisconnectErrHandler(b.onDisconnect),
		nats.ReconnectHandler(b.onReconnect),
		nats.ErrorHandler(b.onAsyncError),
		nats.ClosedHandler(func(*nats.Conn) { b.closedOne.Do(func() { close(b.closed) }) }),
	}

	target := redactURLs(o.URL)
	if o.URL == "" {
		ns, err := startEmbedded(o, timeout, b.log)
		if err != nil {
			return nil, err
		}
		b.ns = ns
		natsOpts = append(natsOpts, nats.InProcessServer(ns))
		target = "embedded"
	}

	nc, err := nats.Connect(o.URL, natsOpts...)
	if err != nil {
		if b.ns != nil {
			b.ns.Shutdown()
			b.ns.WaitForShutdown()
		}
		return nil, fmt.Errorf("bus: connect %s: %w: %w", target, chat.ErrUnavailable, err)
	}
	b.nc = nc
	b.log.Info("bus connected", "server", target, "connected_url", nc.ConnectedUrlRedacted(), "prefix", b.prefix)
	return b, nil
}

func withDefaults(o Options) Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ReconnectWait <= 0 {
		o.ReconnectWait = DefaultReconnectWait
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.PendingMsgsLimit == 0 {
		o.PendingMsgsLimit = DefaultPendingMsgsLimit
	}
	if o.PendingBytesLimit == 0 {
		o.PendingBytesLimit = DefaultPendingBytesLimit
	}
	return o
}

// Connected reports whether the connection is up right now.
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// Embedded reports whether the bus runs its own in-process server.
func (b *Bus) Embedded() bool { return b.ns != nil }

// Ping round-trips to the server (a flush), for readiness checks. Without a
// ctx deadline it uses Options.RequestTimeout. It fails with an error
// wrapping chat.ErrUnavailable when not connected.
func (b *Bus) Ping(ctx context.Context) error {
	if !b.Connected() {
		return errNotConnected("ping")
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	if err := b.nc.FlushWithContext(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("bus: ping: %w: %w", chat.ErrUnavailable, err)
		}
		return wrapErr("ping", err)
	}
	return nil
}

// Close drains the connection (in-flight handlers finish, buffered publishes
// are sent), then stops the embedded server and waits for it. It is safe to
// call more than once.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		if err := b.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			// Drain refuses while reconnecting and closes instead.
			b.log.Debug("bus drain", "err", err)
		}
		select {
		case <-b.closed:
		case <-time.After(b.opts.DrainTimeout + time.Second):
			b.log.Warn("bus close: drain did not finish in time; closing")
			b.nc.Close()
			<-b.closed
		}
		if b.ns != nil {
			b.ns.Shutdown()
			b.ns.WaitForShutdown()
		}
		b.log.Info("bus closed")
	})
}

func (b *Bus) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.opts.RequestTimeout)
}

func (b *Bus) onDisconnect(_ *nats.Conn, err error) {
	if err != nil {
		b.log.Warn("bus disconnected", "err", err)
		return
	}
	b.log.Debug("bus disconnected")
}

func (b *Bus) onReconnect(nc *nats.Conn) {
	b.log.Info("bus reconnected", "connected_url", nc.ConnectedUrlRedacted())
	if b.opts.OnReconnect != nil {
		b.opts.OnReconnect()
	}
}

func (b *Bus) onAsyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
		dropped, _ := sub.Dropped()
		b.log.Warn("bus slow consumer: messages dropped", "subject", sub.Subject, "dropped", dropped)
		if b.opts.OnSlowConsumer != nil {
			b.opts.OnSlowConsumer(sub.Subject)
		}
		return
	}
	if sub != nil {
		b.log.Error("bus async error", "subject", sub.Subject, "err", err)
		return
	}
	b.log.Error("bus async error", "err", err)
}

// redactURLs hides passwords (and tokens given as the user part) in a
// comma-separated list of URLs.
func redactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		if err != nil || u.User == nil {
			parts[i] = p
			continue
		}
		if _, ok := u.User.Password(); !ok {
			u.User = url.User("xxxxx") // a bare user part is a token
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}
