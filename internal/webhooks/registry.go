package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/pawfect/hub/internal/chat"
)

// RegistryStore keeps the webhooks and their delivery log.
type RegistryStore interface {
	CreateWebhook(ctx context.Context, w chat.Webhook) error
	Webhooks(ctx context.Context) ([]chat.Webhook, error)
	Webhook(ctx context.Context, id string) (chat.Webhook, error)
	DeleteWebhook(ctx context.Context, id string) error
	WebhookDeliveries(ctx context.Context, webhookID string, q chat.DeliveryQuery) ([]chat.WebhookDelivery, error)
}

// Store is everything the package needs of a store.
type Store interface {
	RegistryStore
	DeliveryStore
}

// Limits of the registry's input and output.
const (
	MaxURLBytes          = 2048
	DefaultDeliveryLimit = 50
	MaxDeliveryLimit     = 200
	secretBytes          = 32
)

// Registry manages webhooks for admins. Every method refuses anyone else
// with forbidden, whatever the caller checked before.
type Registry struct {
	store RegistryStore
}

// NewRegistry returns a registry over store.
func NewRegistry(store RegistryStore) *Registry { return &Registry{store: store} }

// CreateRequest is a new webhook as asked for. Room nil means every room.
type CreateRequest struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Room   *string  `json:"room"`
}

// Create validates req and stores a new webhook with a fresh secret, which
// is returned only here.
func (r *Registry) Create(ctx context.Context, me chat.User, req CreateRequest) (chat.Webhook, error) {
	if err := adminOnly(me); err != nil {
		return chat.Webhook{}, err
	}
	u, err := checkURL(req.URL)
	if err != nil {
		return chat.Webhook{}, err
	}
	events, err := checkEvents(req.Events)
	if err != nil {
		return chat.Webhook{}, err
	}
	room := ""
	if req.Room != nil {
		if *req.Room == "" {
			return chat.Webhook{}, chat.Errorf(chat.CodeBadRequest, "room: must be a room id, or left out for every room")
		}
		room = *req.Room
	}
	var secret [secretBytes]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return chat.Webhook{}, fmt.Errorf("webhooks: create: secret: %w", err)
	}
	w := chat.Webhook{
		ID:        chat.NewID("wh_"),
		URL:       u,
		Events:    events,
		Room:      room,
		Secret:    hex.EncodeToString(secret[:]),
		CreatedBy: me.ID,
		CreatedAt: chat.Now(),
	}
	err = r.store.CreateWebhook(ctx, w)
	switch {
	case errors.Is(err, chat.ErrNotFound):
		// The room reference is the only one that can be missing.
		return chat.Webhook{}, chat.Errorf(chat.CodeBadRequest, "room: no such room")
	case err != nil:
		return chat.Webhook{}, fmt.Errorf("webhooks: create: %w", err)
	}
	return w, nil
}

// List returns every webhook, oldest first.
func (r *Registry) List(ctx context.Context, me chat.User) ([]chat.Webhook, error) {
	if err := adminOnly(me); err != nil {
		return nil, err
	}
	list, err := r.store.Webhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhooks: list: %w", err)
	}
	return list, nil
}

// Get returns one webhook.
func (r *Registry) Get(ctx context.Context, me chat.User, id string) (chat.Webhook, error) {
	if err := adminOnly(me); err != nil {
		return chat.Webhook{}, err
	}
	w, err := r.store.Webhook(ctx, id)
	if errors.Is(err, chat.ErrNotFound) {
		return chat.Webhook{}, chat.Errorf(chat.CodeNotFound, "no such webhook")
	}
	if err != nil {
		return chat.Webhook{}, fmt.Errorf("webhooks: get: %w", err)
	}
	return w, nil
}

// Delete removes a webhook; its pending deliveries are never attempted.
func (r *Registry) Delete(ctx context.Context, me chat.User, id string) error {
	if err := adminOnly(me); err != nil {
		return err
	}
	err := r.store.DeleteWebhook(ctx, id)
	if errors.Is(err, chat.ErrNotFound) {
		return chat.Errorf(chat.CodeNotFound, "no such webhook")
	}
	if err != nil {
		return fmt.Errorf("webhooks: delete: %w", err)
	}
	return nil
}

// DeliveriesRequest selects a page of the delivery log: before a delivery
// id ("" = from the newest), limit 0 for the default, over the maximum
// taken as the maximum.
type DeliveriesRequest struct {
	Before string
	Limit  int
}

// Deliveries returns a page of a webhook's delivery log, newest first.
func (r *Registry) Deliveries(ctx context.Context, me chat.User, id string, req DeliveriesRequest) ([]chat.WebhookDelivery, error) {
	if _, err := r.Get(ctx, me, id); err != nil {
		return nil, err
	}
	limit := req.Limit
	switch {
	case limit < 0:
		return nil, chat.Errorf(chat.CodeBadRequest, "limit: must not be negative")
	case limit == 0:
		limit = DefaultDeliveryLimit
	case limit > MaxDeliveryLimit:
		limit = MaxDeliveryLimit
	}
	page, err := r.store.WebhookDeliveries(ctx, id, chat.DeliveryQuery{Before: req.Before, Limit: limit})
	switch {
	case errors.Is(err, chat.ErrNotFound):
		// The webhook exists (above), so it is the cursor that does not.
		return nil, chat.Errorf(chat.CodeBadRequest, "before: no delivery %q of this webhook", req.Before)
	case err != nil:
		return nil, fmt.Errorf("webhooks: deliveries: %w", err)
	}
	return page, nil
}

func adminOnly(me chat.User) error {
	if me.Role != chat.RoleAdmin {
		return chat.Errorf(chat.CodeForbidden, "admin only")
	}
	return nil
}

// checkURL accepts an absolute http or https URL with a host and no user
// info (credentials would be shown to every admin who lists webhooks).
// Any host is allowed, loopback and private ones included: only admins
// register webhooks.
func checkURL(raw string) (string, error) {
	bad := func(why string) error { return chat.Errorf(chat.CodeBadRequest, "url: %s", why) }
	switch {
	case raw == "":
		return "", bad("required")
	case len(raw) > MaxURLBytes:
		return "", bad(fmt.Sprintf("longer than %d bytes", MaxURLBytes))
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return "", bad("must be an absolute http or https URL")
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return "", bad(fmt.Sprintf("scheme must be http or https (got %q)", u.Scheme))
	}
	if u.Hostname() == "" {
		return "", bad("has no host")
	}
	if u.User != nil {
		return "", bad("must not contain user info")
	}
	if u.Fragment != "" {
		return "", bad("must not have a fragment")
	}
	return u.String(), nil
}

// checkEvents requires at least one event type, each a known one, and
// returns them once each in the canonical order.
func checkEvents(events []string) ([]string, error) {
	known := chat.WebhookEventTypes()
	if len(events) == 0 {
		return nil, chat.Errorf(chat.CodeBadRequest, "events: at least one of %s", strings.Join(known, ", "))
	}
	want := map[string]bool{}
	for i, e := range events {
		if !slices.Contains(known, e) {
			return nil, chat.Errorf(chat.CodeBadRequest, "events[%d]: unknown event type %q (want one of %s)", i, e, strings.Join(known, ", "))
		}
		want[e] = true
	}
	out := make([]string, 0, len(want))
	for _, e := range known {
		if want[e] {
			out = append(out, e)
		}
	}
	return out, nil
}
