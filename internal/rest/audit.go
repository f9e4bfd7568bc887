package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pawfect/hub/internal/chat"
)

// AuditLog keeps the audit log (PROTOCOL §7). AppendAudit assigns the
// entry's ID; AuditEntries returns up to limit entries strictly older than
// the entry before (empty: no bound), newest first, and refuses a before
// that cannot be an ID with a bad_request naming it.
type AuditLog interface {
	AppendAudit(ctx context.Context, e chat.AuditEntry) (chat.AuditEntry, error)
	AuditEntries(ctx context.Context, before string, limit int) ([]chat.AuditEntry, error)
}

// Audit page sizes (PROTOCOL §7).
const (
	auditDefaultLimit = 50
	auditMaxLimit     = 200
)

// auditWriteTimeout bounds one append, which runs detached from the
// request's context (see record).
const auditWriteTimeout = 5 * time.Second

// maxAuditTarget bounds a target taken from client input (the username of
// a failed login), so a failed attempt cannot store a megabyte.
const maxAuditTarget = 64

func (a *API) registerAudit(mux *http.ServeMux) {
	if a.audit == nil {
		return
	}
	mux.HandleFunc("GET /api/admin/audit", a.adminOnly(a.auditEntries))
}

// record appends one audit entry for an action that has happened. actor
// is nil when nobody is signed in; detail is encoded as the entry's JSON
// object (nil: {}). With no audit log it does nothing.
//
// A failed append is logged and never fails the request: the action is
// already committed, and answering with an error would tell the client it
// did not happen and invite a retry that does it twice. The append is
// synchronous, so the entry can be read as soon as the reply is sent and
// no goroutine outlives the request, and it is detached from the request's
// cancellation, so a client that hangs up at once cannot erase its trail.
func (a *API) record(r *http.Request, actor *chat.User, action, target string, detail any) {
	if a.audit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditWriteTimeout)
	defer cancel()
	e := chat.AuditEntry{At: chat.Now(), Actor: actor, Action: action, Target: target, IP: clientIP(r)}
	if detail != nil {
		b, err := json.Marshal(detail)
		if err != nil {
			a.log.ErrorContext(ctx, "audit: entry not recorded: encode detail", "action", action, "target", target, "err", err)
			return
		}
		if string(b) != "null" { // a nil map or pointer: no detail
			e.Detail = b
		}
	}
	if _, err := a.audit.AppendAudit(ctx, e); err != nil {
		actorID := ""
		if actor != nil {
			actorID = actor.ID
		}
		a.log.ErrorContext(ctx, "audit: entry not recorded", "action", action, "target", target,
			"actor", actorID, "ip", e.IP, "err", err)
	}
}

// auditTarget cuts client-supplied text to maxAuditTarget bytes on a rune
// boundary.
func auditTarget(s string) string {
	if len(s) <= maxAuditTarget {
		return s
	}
	s = s[:maxAuditTarget]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// auditEntries serves GET /api/admin/audit?limit=&before=.
func (a *API) auditEntries(w http.ResponseWriter, r *http.Request, _ chat.User) {
	limit, err := auditLimit(r.URL.Query().Get("limit"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	entries, err := a.audit.AuditEntries(r.Context(), r.URL.Query().Get("before"), limit)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if entries == nil {
		entries = []chat.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, struct {
		Entries []chat.AuditEntry `json:"entries"`
	}{entries})
}

// auditLimit reads the page size: empty means the default, a positive
// integer is taken up to the maximum (larger ones, however large, as the
// maximum, like the history's limit), and anything else is a bad_request.
func auditLimit(s string) (int, error) {
	if s == "" {
		return auditDefaultLimit, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return auditMaxLimit, nil
	}
	if err != nil || n == 0 {
		return 0, chat.Errorf(chat.CodeBadRequest, "limit: must be a positive integer (at most %d are returned)", auditMaxLimit)
	}
	return int(min(n, auditMaxLimit)), nil
}
