package rest

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/webhooks"
)

// registerWebhooks adds PROTOCOL §7's webhook endpoints, every one admin
// only (401 anonymous, 403 any other role).
func (a *API) registerWebhooks(mux *http.ServeMux) {
	if a.webhooks == nil {
		return
	}
	mux.HandleFunc("POST /api/webhooks", a.adminOnly(a.createWebhook))
	mux.HandleFunc("GET /api/webhooks", a.adminOnly(a.listWebhooks))
	mux.HandleFunc("GET /api/webhooks/{id}", a.adminOnly(a.getWebhook))
	mux.HandleFunc("DELETE /api/webhooks/{id}", a.adminOnly(a.deleteWebhook))
	mux.HandleFunc("GET /api/webhooks/{id}/deliveries", a.adminOnly(a.webhookDeliveries))
}

// webhookJSON is a webhook on the wire. The secret is sent only in the
// reply that created it.
type webhookJSON struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Room      *string   `json:"room"`
	Secret    string    `json:"secret,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func webhookView(w chat.Webhook, withSecret bool) webhookJSON {
	v := webhookJSON{ID: w.ID, URL: w.URL, Events: w.Events, CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt}
	if w.Room != "" {
		v.Room = &w.Room
	}
	if withSecret {
		v.Secret = w.Secret
	}
	return v
}

type webhookBody struct {
	Webhook webhookJSON `json:"webhook"`
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request, me chat.User) {
	var req webhooks.CreateRequest
	if err := decode(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	hook, err := a.webhooks.Create(r.Context(), me, req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var room any // null: every room
	if hook.Room != "" {
		room = hook.Room
	}
	a.record(r, &me, chat.AuditWebhookCreate, hook.ID, map[string]any{"url": hook.URL, "events": hook.Events, "room": room})
	writeJSON(w, http.StatusCreated, webhookBody{webhookView(hook, true)})
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request, me chat.User) {
	list, err := a.webhooks.List(r.Context(), me)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]webhookJSON, len(list))
	for i, h := range list {
		out[i] = webhookView(h, false)
	}
	writeJSON(w, http.StatusOK, struct {
		Webhooks []webhookJSON `json:"webhooks"`
	}{out})
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request, me chat.User) {
	hook, err := a.webhooks.Get(r.Context(), me, r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, webhookBody{webhookView(hook, false)})
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request, me chat.User) {
	id := r.PathValue("id")
	if err := a.webhooks.Delete(r.Context(), me, id); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.record(r, &me, chat.AuditWebhookDelete, id, nil)
	w.WriteHeader(http.StatusNoContent)
}

// deliveryJSON is one entry of the delivery log. Its id is the event id,
// the X-Hub-Delivery header of every attempt.
type deliveryJSON struct {
	ID            string          `json:"id"`
	Event         string          `json:"event"`
	Status        string          `json:"status"`
	CreatedAt     time.Time       `json:"created_at"`
	NextAttemptAt *time.Time      `json:"next_attempt_at,omitempty"`
	FinishedAt    *time.Time      `json:"finished_at,omitempty"`
	Attempts      []attemptJSON   `json:"attempts"`
	Body          json.RawMessage `json:"body"`
}

type attemptJSON struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS float64   `json:"duration_ms"`
	Node       string    `json:"node"`
}

func (a *API) webhookDeliveries(w http.ResponseWriter, r *http.Request, me chat.User) {
	limit, err := queryInt(r, "limit")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	page, err := a.webhooks.Deliveries(r.Context(), me, r.PathValue("id"), webhooks.DeliveriesRequest{
		Before: r.URL.Query().Get("before"), Limit: int(min(limit, 1<<20)),
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]deliveryJSON, len(page))
	for i, d := range page {
		v := deliveryJSON{
			ID: d.EventID, Event: d.EventType, Status: string(d.Status), CreatedAt: d.CreatedAt,
			NextAttemptAt: d.NextAttemptAt, FinishedAt: d.FinishedAt,
			Attempts: make([]attemptJSON, len(d.Attempts)), Body: json.RawMessage(d.Body),
		}
		for j, at := range d.Attempts {
			v.Attempts[j] = attemptJSON{
				N: at.N, At: at.At, StatusCode: at.StatusCode, Error: at.Error,
				DurationMS: float64(at.Duration.Microseconds()) / 1000, Node: at.Node,
			}
		}
		out[i] = v
	}
	writeJSON(w, http.StatusOK, struct {
		Deliveries []deliveryJSON `json:"deliveries"`
	}{out})
}
