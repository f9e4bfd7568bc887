package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// Subscription is one subscription made by Subscribe or QueueSubscribe.
type Subscription struct {
	sub *nats.Subscription
}

// Subject is the subject (pattern) subscribed to.
func (s *Subscription) Subject() string { return s.sub.Subject }

// Unsubscribe stops delivery: no handler call starts after it returns (one
// already running finishes). Unsubscribing twice, or after Close, is not an
// error.
func (s *Subscription) Unsubscribe() error {
	err := s.sub.Unsubscribe()
	switch {
	case err == nil,
		errors.Is(err, nats.ErrBadSubscription),
		errors.Is(err, nats.ErrConnectionClosed):
		return nil
	default:
		return wrapErr("unsubscribe "+s.sub.Subject, err)
	}
}

// Publish sends data on subject. It fails at once, with an error wrapping
// chat.ErrUnavailable, when the connection is not up; see doc.go. A nil error
// means the message was handed to the client, not that anyone received it.
func (b *Bus) Publish(ctx context.Context, subject string, data []byte) error {
	op := "publish " + subject
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bus: %s: %w", op, err)
	}
	if !validSubject(subject, false) {
		return fmt.Errorf("bus: %s: %w", op, ErrBadSubject)
	}
	if !b.Connected() {
		return errNotConnected(op)
	}
	return wrapErr(op, b.nc.Publish(subject, data))
}

// Subscribe calls fn with the payload of every message on subject ('*' and
// '>' wildcards allowed). fn runs on the subscription's own goroutine, one
// message at a time, in the order the server delivered them. The data slice
// is fn's to keep.
func (b *Bus) Subscribe(subject string, fn func(data []byte)) (*Subscription, error) {
	op := "subscribe " + subject
	if !validSubject(subject, true) {
		return nil, fmt.Errorf("bus: %s: %w", op, ErrBadSubject)
	}
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return b.finishSub(op, sub)
}

// QueueSubscribe is Subscribe in a queue group: each message goes to one
// member of the group. fn gets the concrete subject and a reply function,
// which fails when the sender expects no reply.
func (b *Bus) QueueSubscribe(subject, queue string, fn func(subject string, data []byte, reply func([]byte) error)) (*Subscription, error) {
	op := "queue subscribe " + subject
	if !validSubject(subject, true) {
		return nil, fmt.Errorf("bus: %s: %w", op, ErrBadSubject)
	}
	if !ValidToken(queue) {
		return nil, fmt.Errorf("bus: %s: queue %q: %w", op, queue, ErrBadSubject)
	}
	sub, err := b.nc.QueueSubscribe(subject, queue, func(m *nats.Msg) {
		reply := func(data []byte) error {
			if m.Reply == "" {
				return fmt.Errorf("bus: reply on %s: the sender expects no reply", m.Subject)
			}
			return wrapErr("reply on "+m.Subject, m.Respond(data))
		}
		fn(m.Subject, m.Data, reply)
	})
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return b.finishSub(op, sub)
}

func (b *Bus) finishSub(op string, sub *nats.Subscription) (*Subscription, error) {
	if err := sub.SetPendingLimits(b.opts.PendingMsgsLimit, b.opts.PendingBytesLimit); err != nil {
		_ = sub.Unsubscribe()
		return nil, wrapErr(op, err)
	}
	return &Subscription{sub: sub}, nil
}

// Request sends data on subject and waits for the first reply until ctx is
// done (Options.RequestTimeout if ctx has no deadline). Errors wrap
// context.DeadlineExceeded on timeout, ErrNoResponders when nobody listens,
// and chat.ErrUnavailable when the connection is not up.
func (b *Bus) Request(ctx context.Context, subject string, data []byte) ([]byte, error) {
	op := "request " + subject
	if !validSubject(subject, false) {
		return nil, fmt.Errorf("bus: %s: %w", op, ErrBadSubject)
	}
	if !b.Connected() {
		return nil, errNotConnected(op)
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	m, err := b.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	return m.Data, nil
}
