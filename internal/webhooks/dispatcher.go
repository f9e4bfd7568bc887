package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	randv2 "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// DeliveryStore is the outbox as the dispatcher works it.
type DeliveryStore interface {
	// ClaimDeliveries leases up to limit due deliveries to owner until
	// now+lease; no two claims hold one delivery at once.
	ClaimDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]chat.DeliveryJob, error)
	// FinishAttempt records an attempt of a delivery owner holds and
	// releases it; chat.ErrNotFound if owner no longer holds it.
	FinishAttempt(ctx context.Context, delivery int64, owner string, o chat.DeliveryOutcome) error
}

// Defaults and bounds of Config.
const (
	DefaultPollInterval = time.Second
	DefaultRetryBase    = 5 * time.Second
	DefaultRetryCap     = 10 * time.Minute
	DefaultGiveUp       = 24 * time.Hour
	DefaultTimeout      = 10 * time.Second
	DefaultWorkers      = 8
	// MinGiveUp is the least give-up age: PROTOCOL §7 promises retries
	// for at least an hour.
	MinGiveUp = time.Hour
)

// Config shapes a Dispatcher. Zero values take the defaults.
type Config struct {
	Node         string        // this hub's name, recorded with each attempt
	PollInterval time.Duration // how often to look for due deliveries
	RetryBase    time.Duration // wait after the first failed attempt
	RetryCap     time.Duration // longest wait between attempts
	// GiveUp is how old a delivery may get before a failed attempt marks
	// it failed instead of scheduling another; at least MinGiveUp unless
	// AllowShortGiveUp.
	GiveUp time.Duration
	// AllowShortGiveUp lets tests use a GiveUp under MinGiveUp. Nothing
	// in the hub's configuration sets it.
	AllowShortGiveUp bool
	Timeout          time.Duration // the whole of one POST, response included
	Workers          int           // deliveries in flight at once
}

func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.PollInterval, DefaultPollInterval)
	def(&c.RetryBase, DefaultRetryBase)
	def(&c.RetryCap, DefaultRetryCap)
	def(&c.GiveUp, DefaultGiveUp)
	def(&c.Timeout, DefaultTimeout)
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	switch {
	case c.PollInterval < 0 || c.RetryBase < 0 || c.RetryCap < 0 || c.GiveUp < 0 || c.Timeout < 0 || c.Workers < 0:
		return c, errors.New("webhooks: config: durations and workers must not be negative")
	case c.RetryCap < c.RetryBase:
		return c, fmt.Errorf("webhooks: config: retry cap %s is below retry base %s", c.RetryCap, c.RetryBase)
	case c.GiveUp < MinGiveUp && !c.AllowShortGiveUp:
		return c, fmt.Errorf("webhooks: config: give-up age %s is under %s", c.GiveUp, MinGiveUp)
	}
	if c.Node == "" {
		c.Node = "hub"
	}
	return c, nil
}

// lease is how long a claim holds a delivery: longer than the POST and the
// write of its result can take, so a live hub never loses a delivery it is
// working on, and short enough that a dead hub's deliveries are soon
// retried by another.
func (c Config) lease() time.Duration { return 2*c.Timeout + 30*time.Second }

// finishTimeout bounds recording one attempt. It has a context of its own,
// not the dispatcher's, so the result of an attempt cut short by shutdown
// is still written.
const finishTimeout = 5 * time.Second

// maxErrorLen bounds the error text kept with an attempt.
const maxErrorLen = 500

// Dispatcher delivers due deliveries from the store. See the package doc
// for its goroutines.
type Dispatcher struct {
	cfg       Config
	store     DeliveryStore
	log       *slog.Logger
	owner     string // this dispatcher's claims: node and a random suffix
	client    *http.Client
	transport *http.Transport

	stop     chan struct{} // closed by Close: claim nothing more
	kick     chan struct{} // poll again now (a claim filled every free worker)
	pollDone chan struct{} // closed when the poll loop has returned
	// reqCtx is the parent of every POST; cancelled on a hard stop.
	reqCtx     context.Context
	cancelReqs context.CancelFunc

	inflight sync.WaitGroup // delivery goroutines; Go is only called by the poll loop
	busy     atomic.Int64   // deliveries in flight
	full     atomic.Bool    // the last claim took as many as it could

	startOnce, closeOnce sync.Once
	started              atomic.Bool
}

// NewDispatcher returns a dispatcher that has not started polling.
func NewDispatcher(cfg Config, store DeliveryStore, log *slog.Logger) (*Dispatcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = cfg.Workers
	reqCtx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{
		cfg:   cfg,
		store: store,
		log:   log,
		owner: cfg.Node + "-" + hex.EncodeToString(suffix[:]),
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// A redirect is not followed: the receiver registered this
			// URL, and following would send the signed body elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport:  transport,
		stop:       make(chan struct{}),
		kick:       make(chan struct{}, 1),
		pollDone:   make(chan struct{}),
		reqCtx:     reqCtx,
		cancelReqs: cancel,
	}, nil
}

// Start begins polling. Later calls, and calls after Close, do nothing;
// Start and Close must not race.
func (d *Dispatcher) Start() {
	d.startOnce.Do(func() {
		select {
		case <-d.stop:
			return
		default:
		}
		d.started.Store(true)
		go d.loop()
	})
}

// Close stops polling and waits for in-flight deliveries until ctx ends;
// then it cancels them (each is recorded as interrupted, due again at once)
// and waits for their goroutines. It returns ctx's error if it had to
// cancel. Closing again is a no-op.
func (d *Dispatcher) Close(ctx context.Context) error {
	var err error
	d.closeOnce.Do(func() {
		close(d.stop)
		if d.started.Load() {
			<-d.pollDone // no inflight.Go after this
		}
		idle := make(chan struct{})
		go func() { d.inflight.Wait(); close(idle) }()
		select {
		case <-idle:
		case <-ctx.Done():
			err = fmt.Errorf("webhooks: close: %w", ctx.Err())
			d.cancelReqs()
			<-idle
		}
		d.cancelReqs()
		d.transport.CloseIdleConnections()
	})
	return err
}

func (d *Dispatcher) loop() {
	defer close(d.pollDone)
	tick := time.NewTicker(d.cfg.PollInterval)
	defer tick.Stop()
	for {
		d.poll()
		select {
		case <-d.stop:
			return
		case <-tick.C:
		case <-d.kick:
		}
	}
}

// poll claims as many due deliveries as there are free workers and starts
// one goroutine for each.
func (d *Dispatcher) poll() {
	free := d.cfg.Workers - int(d.busy.Load())
	if free <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(d.reqCtx, d.cfg.Timeout)
	defer cancel()
	jobs, err := d.store.ClaimDeliveries(ctx, d.owner, chat.Now(), d.cfg.lease(), free)
	if err != nil {
		d.log.Warn("webhooks: claim deliveries", "err", err)
		return
	}
	d.full.Store(len(jobs) == free)
	for _, j := range jobs {
		d.busy.Add(1)
		d.inflight.Go(func() {
			defer d.finished()
			d.deliver(j)
		})
	}
}

// finished frees a worker and, if the last claim may have left due
// deliveries behind, asks the loop to claim again without waiting for the
// next tick.
func (d *Dispatcher) finished() {
	d.busy.Add(-1)
	if d.full.Load() {
		select {
		case d.kick <- struct{}{}:
		default:
		}
	}
}

// deliver makes one attempt of j and records it.
func (d *Dispatcher) deliver(j chat.DeliveryJob) {
	start := chat.Now()
	code, err := d.post(j)
	attempt := chat.DeliveryAttempt{At: start, StatusCode: code, Duration: time.Since(start), Node: d.cfg.Node}
	interrupted := err != nil && d.reqCtx.Err() != nil
	switch {
	case interrupted:
		attempt.Error = "interrupted: the hub is shutting down"
	case err != nil:
		attempt.Error = truncate(err.Error(), maxErrorLen)
	case code >= 300 && code < 400:
		attempt.Error = "redirect not followed"
	}
	o := d.outcome(j, attempt, err == nil && code >= 200 && code < 300, interrupted, chat.Now())

	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	switch ferr := d.store.FinishAttempt(ctx, j.Delivery, d.owner, o); {
	case errors.Is(ferr, chat.ErrNotFound):
		// The webhook was deleted meanwhile, or the lease ran out and
		// another hub took over; either way the result is not ours to keep.
		d.log.Info("webhooks: attempt not recorded: delivery no longer held", "webhook", j.WebhookID, "event", j.EventID)
	case ferr != nil:
		// The lease will run out and the delivery be retried.
		d.log.Warn("webhooks: record attempt", "webhook", j.WebhookID, "event", j.EventID, "err", ferr)
	case o.Status == chat.DeliveryFailed:
		d.log.Warn("webhooks: delivery failed; giving up", "webhook", j.WebhookID, "event", j.EventID,
			"attempts", j.Attempts+1, "status", code, "err", attempt.Error)
	default:
		d.log.Debug("webhooks: attempt", "webhook", j.WebhookID, "event", j.EventID, "outcome", o.Status,
			"status", code, "err", attempt.Error)
	}
}

// outcome decides what an attempt that ended at now means for its delivery.
func (d *Dispatcher) outcome(j chat.DeliveryJob, a chat.DeliveryAttempt, ok, interrupted bool, now time.Time) chat.DeliveryOutcome {
	o := chat.DeliveryOutcome{Attempt: a}
	switch {
	case ok:
		o.Status = chat.DeliveryDelivered
		return o
	case interrupted:
		// Not the receiver's fault: due again at once, for any hub.
		o.Status, o.NextAttemptAt = chat.DeliveryPending, now
		return o
	}
	deadline := j.CreatedAt.Add(d.cfg.GiveUp)
	if !now.Before(deadline) {
		o.Status = chat.DeliveryFailed
		return o
	}
	next := now.Add(Backoff(j.Attempts+1, d.cfg.RetryBase, d.cfg.RetryCap, randv2.Float64()))
	// The last attempt is made at the give-up age, not skipped.
	o.Status, o.NextAttemptAt = chat.DeliveryPending, minTime(next, deadline)
	return o
}

// post sends j's body once and returns the response status.
func (d *Dispatcher) post(j chat.DeliveryJob) (int, error) {
	req, err := http.NewRequestWithContext(d.reqCtx, http.MethodPost, j.URL, bytes.NewReader(j.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pawfect-hub-webhooks")
	req.Header.Set("X-Hub-Event", j.EventType)
	req.Header.Set("X-Hub-Delivery", j.EventID)
	req.Header.Set("X-Hub-Attempt", strconv.Itoa(j.Attempts+1))
	req.Header.Set("X-Hub-Signature-256", Sign(j.Secret, j.Body))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Drain a little so the connection can be reused; the body itself
	// means nothing to the hub.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Back off to a rune boundary so the stored text stays valid UTF-8.
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
