package chat

import (
	"encoding/json"
	"time"
)

// Webhook event types (PROTOCOL §7, docs/protocol.md). The message ones
// share their names with the WebSocket events.
const (
	EventMemberAdded   = "member_added"
	EventMemberRemoved = "member_removed"
)

// WebhookEventTypes lists every event type a webhook may subscribe to, in
// the order the API reports them.
func WebhookEventTypes() []string {
	return []string{EventMessage, EventMessageEdited, EventMessageDeleted, EventMemberAdded, EventMemberRemoved}
}

// Webhook is a registered receiver of events. Room "" means every room.
// Secret is the HMAC key deliveries are signed with.
type Webhook struct {
	ID        string
	URL       string
	Events    []string
	Room      string
	Secret    string
	CreatedBy string
	CreatedAt time.Time
}

// WebhookEvent is the body of every delivery, built once when the change
// that caused it is stored. ID is the event ID, shared by every webhook that
// receives the event and sent as X-Hub-Delivery.
type WebhookEvent struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Room      string          `json:"room"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses. A pending delivery is retried until it is delivered
// or given up as failed.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// WebhookDelivery is one event queued for one webhook, with its attempts.
// Its public ID is the event ID: a webhook gets each event once.
type WebhookDelivery struct {
	WebhookID     string
	EventID       string
	EventType     string
	Body          []byte // the exact bytes POSTed and signed
	Status        DeliveryStatus
	Attempts      []DeliveryAttempt // oldest first
	CreatedAt     time.Time
	NextAttemptAt *time.Time // pending only
	FinishedAt    *time.Time // when delivered or given up
}

// DeliveryAttempt is one POST of a delivery. StatusCode is 0 when no
// response came back (Error says why).
type DeliveryAttempt struct {
	N          int
	At         time.Time
	StatusCode int
	Error      string
	Duration   time.Duration
	Node       string
}

// DeliveryJob is a delivery claimed by one dispatcher: everything needed to
// make the next attempt. Delivery is the store's key for it.
type DeliveryJob struct {
	Delivery  int64
	WebhookID string
	URL       string
	Secret    string
	EventID   string
	EventType string
	Body      []byte
	Attempts  int // attempts made before this one
	CreatedAt time.Time
}

// DeliveryOutcome is the result of one attempt as the dispatcher decided
// it: Status delivered, failed (given up) or pending with NextAttemptAt.
type DeliveryOutcome struct {
	Attempt       DeliveryAttempt
	Status        DeliveryStatus
	NextAttemptAt time.Time
}

// DeliveryQuery selects a page of a webhook's delivery log, newest first.
// Before is a delivery (event) ID; "" starts at the newest. Limit must
// already be clamped by the caller.
type DeliveryQuery struct {
	Before string
	Limit  int
}
