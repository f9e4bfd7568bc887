package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/rooms"
	"github.com/pawfect/hub/internal/webhooks"
)

// maxBody bounds every JSON request body; message text is far smaller.
const maxBody = 1 << 20

// Login attempts allowed per username and per client address.
const (
	loginAttempts = 10
	loginWindow   = time.Minute
)

// Limiter allows at most limit events per key in any window.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// Deps is what the API handlers call.
type Deps struct {
	Auth    *auth.Service
	Rooms   *rooms.Service
	Limiter Limiter
	Ops     Inspector // optional: the /api/admin/ room and connection endpoints
	Logger  *slog.Logger
	Audit   AuditLog // nil: nothing is recorded and /api/admin/audit is absent
	// Webhooks serves /api/webhooks; nil leaves those routes out.
	Webhooks *webhooks.Registry
}

// API holds the handlers.
type API struct {
	auth    *auth.Service
	rooms   *rooms.Service
	limiter Limiter
	ops     Inspector
	log     *slog.Logger
	audit   AuditLog

	webhooks *webhooks.Registry
}

// New returns the API handlers.
func New(d Deps) *API {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{auth: d.Auth, rooms: d.Rooms, limiter: d.Limiter, ops: d.Ops, audit: d.Audit, webhooks: d.Webhooks, log: log}
}

// allow applies a rate limit; without a limiter, or when it cannot answer,
// the request goes through.
func (a *API) allow(r *http.Request, key string, limit int, window time.Duration) error {
	if a.limiter == nil {
		return nil
	}
	ok, retry, err := a.limiter.Allow(r.Context(), key, limit, window)
	if err != nil {
		a.log.WarnContext(r.Context(), "rate limiter unavailable; allowing", "key", key, "err", err)
		return nil
	}
	if !ok {
		return chat.RateLimited(retry)
	}
	return nil
}

// clientIP is the peer address of the request. Forwarded headers are not
// trusted: a proxy in front of the hub should limit logins itself.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Register adds every /api/ route to mux.
func (a *API) Register(mux *http.ServeMux) {
	a.registerAccounts(mux)
	a.registerRooms(mux)
	a.registerOps(mux)
	a.registerAudit(mux)
	a.registerWebhooks(mux)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, chat.Errorf(chat.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

// authedHandler is a handler that runs only for a valid bearer token.
type authedHandler func(w http.ResponseWriter, r *http.Request, me chat.User)

// authed checks the bearer token on every request, so a revoked bot or a
// deleted account is refused at once rather than at token expiry.
func (a *API) authed(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := auth.BearerToken(r)
		if !ok {
			a.writeError(w, r, chat.Errorf(chat.CodeUnauthorized, "missing bearer token"))
			return
		}
		me, err := a.auth.Authenticate(r.Context(), token)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		h(w, r, me)
	}
}

// decode reads a JSON body into v. Unknown fields are allowed so that newer
// clients keep working against older hubs.
func decode(r *http.Request, v any) error {
	return decodeBody(r, v, false)
}

// decodeOptional is decode for a body whose fields are all optional: an
// empty body (however it is framed) leaves v as it is.
func decodeOptional(r *http.Request, v any) error {
	return decodeBody(r, v, true)
}

func decodeBody(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return chat.Errorf(chat.CodeTooLarge, "request body over %d bytes", maxBody)
		}
		return chat.Errorf(chat.CodeBadRequest, "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil
		}
		return chat.Errorf(chat.CodeBadRequest, "request body must be a JSON object")
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD.
	if !utf8.Valid(body) {
		return chat.Errorf(chat.CodeBadRequest, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return chat.Errorf(chat.CodeBadRequest, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return chat.Errorf(chat.CodeBadRequest, "request body must be one JSON object")
	}
	return nil
}

// queryInt reads an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, chat.Errorf(chat.CodeBadRequest, "%s: must be a non-negative integer", name)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorBody struct {
	Error *chat.Error `json:"error"`
}

func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := chat.AsError(err)
	if e.Code == chat.CodeInternal || e.Code == chat.CodeUnavailable {
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e.Code == chat.CodeRateLimited {
		secs := (e.RetryAfter + 999) / 1000
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	writeJSON(w, e.Code.HTTPStatus(), errorBody{Error: e})
}
