package bus

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/pawfect/hub/internal/chat"
)

// ErrNoResponders is returned (wrapped) by Request when nobody subscribes to
// the subject, so no answer can ever come.
var ErrNoResponders = errors.New("no responders")

// ErrBadSubject is returned (wrapped) for a subject that is empty, has an
// empty token, whitespace, or a wildcard where none is allowed.
var ErrBadSubject = errors.New("bad subject")

// unavailable lists the nats.go errors meaning "the link is not up now".
var unavailable = []error{
	nats.ErrConnectionClosed,
	nats.ErrConnectionDraining,
	nats.ErrConnectionReconnecting,
	nats.ErrReconnectBufExceeded,
	nats.ErrDisconnected,
	nats.ErrNoServers,
	nats.ErrInvalidConnection,
	nats.ErrTimeout,
	nats.ErrStaleConnection,
}

// wrapErr prefixes err with "bus: op: " and, when err means the connection is
// not usable, also wraps chat.ErrUnavailable.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("bus: %s: %w", op, ErrNoResponders)
	}
	for _, u := range unavailable {
		if errors.Is(err, u) {
			return fmt.Errorf("bus: %s: %w: %w", op, chat.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("bus: %s: %w", op, err)
}

// errNotConnected is what operations return while the link is down.
func errNotConnected(op string) error {
	return fmt.Errorf("bus: %s: not connected to NATS: %w", op, chat.ErrUnavailable)
}
