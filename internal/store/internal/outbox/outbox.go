// Package outbox builds the webhook event bodies that both store backends
// write into their delivery outbox, so the two produce the same bytes.
//
// A body is built once, in Go, inside the transaction of the change that
// caused it, and stored as is: the bytes stored are the bytes signed and
// POSTed on every attempt, whichever hub makes it.
package outbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// EventIDPrefix starts every webhook event ID.
const EventIDPrefix = "evt_"

// Member is the data of member_added and member_removed events.
type Member struct {
	User chat.User       `json:"user"`
	Role chat.MemberRole `json:"role"`
}

// Event returns a new event ID and the body of an event of type typ in
// room, with data encoded as its "data" and at as its created_at.
func Event(typ, room string, data any, at time.Time) (id string, body []byte, err error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return "", nil, fmt.Errorf("outbox: encode %s data: %w", typ, err)
	}
	id = chat.NewID(EventIDPrefix)
	body, err = json.Marshal(chat.WebhookEvent{ID: id, Type: typ, Room: room, Data: raw, CreatedAt: at.UTC()})
	if err != nil {
		return "", nil, fmt.Errorf("outbox: encode %s event: %w", typ, err)
	}
	return id, body, nil
}

// SortTypes orders event types as chat.WebhookEventTypes lists them, with
// unknown ones (none are stored) last in name order, so both stores report
// a webhook's events the same way whatever order they were given in.
func SortTypes(types []string) {
	rank := map[string]int{}
	for i, t := range chat.WebhookEventTypes() {
		rank[t] = i + 1
	}
	slices.SortFunc(types, func(a, b string) int {
		ra, rb := rank[a], rank[b]
		switch {
		case ra != 0 && rb != 0:
			return ra - rb
		case ra != 0:
			return -1
		case rb != 0:
			return 1
		}
		return strings.Compare(a, b)
	})
}
