package bus

import (
	"context"
	"errors"
	"fmt"

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
	inbox := b.nc.NewRespInbox()
	sub, err := b.nc.SubscribeSync(inbox)
	if err != nil {
		return wrapErr(op, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := b.nc.PublishRequest(subject, inbox, data); err != nil {
		return wrapErr(op, err)
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return nil
			}
			return wrapErr(op, err)
		}
		if !each(m.Data) {
			return nil
		}
	}
}
