package bus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// Respond subscribes fn to the requests on subject (every subscriber gets
// each one, unlike QueueSubscribe). fn's result is sent back to the
// requester; a nil result sends nothing, so a node with nothing to say can
// stay silent. fn runs on the subscription's goroutine, one request at a
// time.
func (b *Bus) Respond(subject string, fn func(data []byte) []byte) (*Subscription, error) {
	op := "respond " + subject
	if !validSubject(subject, true) {
		return nil, fmt.Errorf("bus: %s: %w", op, ErrBadSubject)
	}
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		out := fn(m.Data)
		if out == nil || m.Reply == "" {
			return
		}
		if err := m.Respond(out); err != nil {
			b.log.Warn("bus: reply failed", "subject", m.Subject, "err", err)
		}
	})
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return b.finishSub(op, sub)
}

// gatherReplies bounds the replies one Gather buffers before its each
// has seen them; more are dropped (and logged), as a slow subscriber's
// would be.
const gatherReplies = 256

// gatherMux routes replies to the Gather waiting for them. Every Gather
// shares one wildcard subscription on an inbox prefix, made on first use,
// instead of subscribing to an inbox of its own: a subscription per
// question costs a SUB and an UNSUB at the server, and nats.go gives each
// a 64k-slot channel, which under steady inspection load was most of the
// hub's garbage.
type gatherMux struct {
	mu      sync.Mutex // guards prefix, sub and waiters
	prefix  string     // <inbox>. ; a reply subject is prefix + token
	sub     *nats.Subscription
	waiters map[string]chan []byte // token → the waiting Gather's replies
	next    uint64
}

// gatherWait registers a new waiter and returns its reply subject and channel.
func (b *Bus) gatherWait() (subject, token string, ch chan []byte, err error) {
	g := &b.gather
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.sub == nil {
		prefix := b.nc.NewRespInbox() + "."
		sub, err := b.nc.Subscribe(prefix+"*", func(m *nats.Msg) { b.gatherDeliver(m) })
		if err != nil {
			return "", "", nil, err
		}
		// Replies arrive in bursts from every node at once; the channels
		// of the waiters, not this queue, are what bounds them.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			_ = sub.Unsubscribe()
			return "", "", nil, err
		}
		g.prefix, g.sub, g.waiters = prefix, sub, make(map[string]chan []byte)
	}
	g.next++
	token = strconv.FormatUint(g.next, 36)
	ch = make(chan []byte, gatherReplies)
	g.waiters[token] = ch
	return g.prefix + token, token, ch, nil
}

func (b *Bus) gatherDone(token string) {
	g := &b.gather
	g.mu.Lock()
	delete(g.waiters, token)
	g.mu.Unlock()
}

func (b *Bus) gatherDeliver(m *nats.Msg) {
	g := &b.gather
	token := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	g.mu.Lock()
	ch := g.waiters[token]
	g.mu.Unlock()
	if ch == nil {
		return // a late reply: its Gather has returned
	}
	select {
	case ch <- m.Data:
	default:
		b.log.Warn("bus: gather: too many replies; dropped one", "subject", m.Subject)
	}
}

// Gather publishes one request on subject and hands every reply to each
// until each returns false or ctx is done: the scatter-gather behind
// questions asked of all nodes. Running out of time is not an error, since
// callers report the nodes that did not answer; Gather returns an error
// only when the request could not be sent.
func (b *Bus) Gather(ctx context.Context, subject string, data []byte, each func(reply []byte) (more bool)) error {
	op := "gather " + subject
	if !validSubject(subject, false) {
		return fmt.Errorf("bus: %s: %w", op, ErrBadSubject)
	}
	if !b.Connected() {
		return errNotConnected(op)
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	reply, token, ch, err := b.gatherWait()
	if err != nil {
		return wrapErr(op, err)
	}
	defer b.gatherDone(token)
	if err := b.nc.PublishRequest(subject, reply, data); err != nil {
		return wrapErr(op, err)
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-ch:
			if !each(r) {
				return nil
			}
		}
	}
}
