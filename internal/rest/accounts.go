package rest

import (
	"net/http"
	"time"

	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/chat"
)

// registerAccounts adds the account, token and bot routes (PROTOCOL §2
// "Accounts and tokens").
func (a *API) registerAccounts(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/auth/register", a.register)
	mux.HandleFunc("POST /api/auth/login", a.login)
	mux.HandleFunc("POST /api/auth/guest", a.guest)
	mux.HandleFunc("GET /api/me", a.authed(a.me))
	mux.HandleFunc("POST /api/bots", a.authed(a.createBot))
	mux.HandleFunc("DELETE /api/bots/{id}", a.authed(a.revokeBot))
}

// sessionResponse is the reply to register, login and guest.
type sessionResponse struct {
	User      chat.User `json:"user"`
	Token     string    `json:"token"`
	ExpiresAt string    `json:"expires_at"`
}

func newSession(u chat.User, t auth.Token) sessionResponse {
	return sessionResponse{User: u, Token: t.Token, ExpiresAt: expiresAt(t.ExpiresAt)}
}

func expiresAt(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// missingField returns a bad_request naming the first empty field, or nil.
// fields alternate name and value.
func missingField(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			return chat.Errorf(chat.CodeBadRequest, "%s: required", fields[i])
		}
	}
	return nil
}

func (a *API) register(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username    string `json:"username"`
		Password    string `json:"password"`
		DisplayName string `json:"display_name"`
	}
	if err := decode(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := missingField("username", req.Username, "password", req.Password); err != nil {
		a.writeError(w, r, err)
		return
	}
	u, tok, err := a.auth.Register(r.Context(), req.Username, req.Password, req.DisplayName)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.record(r, &u, chat.AuditRegister, u.ID, nil)
	writeJSON(w, http.StatusCreated, newSession(u, tok))
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := missingField("username", req.Username, "password", req.Password); err != nil {
		a.writeError(w, r, err)
		return
	}
	// Password guessing is slowed per account and per client address; the
	// budget is spent by every attempt, so a success costs one too.
	for _, key := range []string{"login:user:" + req.Username, "login:ip:" + clientIP(r)} {
		if err := a.allow(r, key, loginAttempts, loginWindow); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	u, tok, err := a.auth.Login(r.Context(), req.Username, req.Password)
	if err != nil {
		// Only a refused name or password is a failed login. Attempts over
		// the limits above are not recorded: the password was not tried,
		// and recording them would turn each cheap refusal into a store
		// write an attacker could repeat without bound; the limits already
		// bound the failures recorded per account and per address.
		if chat.AsError(err).Code == chat.CodeUnauthorized {
			a.record(r, nil, chat.AuditLoginFailed, auditTarget(req.Username), nil)
		}
		a.writeError(w, r, err)
		return
	}
	// The target is the username for a login as for a failed one, so one
	// filter finds every attempt on an account.
	a.record(r, &u, chat.AuditLogin, u.Username, nil)
	writeJSON(w, http.StatusOK, newSession(u, tok))
}

// guest accepts an empty body as well as {"display_name"}: every field is
// optional.
func (a *API) guest(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DisplayName string `json:"display_name"`
	}
	if err := decodeOptional(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	u, tok, err := a.auth.Guest(r.Context(), req.DisplayName)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.record(r, &u, chat.AuditGuest, u.ID, nil)
	writeJSON(w, http.StatusCreated, newSession(u, tok))
}

func (a *API) me(w http.ResponseWriter, r *http.Request, me chat.User) {
	writeJSON(w, http.StatusOK, struct {
		User chat.User `json:"user"`
	}{me})
}

func (a *API) createBot(w http.ResponseWriter, r *http.Request, me chat.User) {
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := missingField("name", req.Name); err != nil {
		a.writeError(w, r, err)
		return
	}
	bot, tok, err := a.auth.CreateBot(r.Context(), me, req.Name)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.record(r, &me, chat.AuditBotCreate, bot.ID, map[string]string{"name": bot.Username})
	// expires_at is an addition to PROTOCOL §2's {"bot","token"}.
	writeJSON(w, http.StatusCreated, struct {
		Bot       chat.User `json:"bot"`
		Token     string    `json:"token"`
		ExpiresAt string    `json:"expires_at"`
	}{bot, tok.Token, expiresAt(tok.ExpiresAt)})
}

func (a *API) revokeBot(w http.ResponseWriter, r *http.Request, me chat.User) {
	if err := a.auth.RevokeBot(r.Context(), me, r.PathValue("id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.record(r, &me, chat.AuditBotRevoke, r.PathValue("id"), nil)
	w.WriteHeader(http.StatusNoContent)
}
