package rest

import (
	"net/http"

	"github.com/pawfect/hub/internal/chat"
)

// adminOnly is authed for the admin endpoints: anonymous callers get 401,
// every signed-in role but admin (users, guests, bots) gets 403.
func (a *API) adminOnly(h authedHandler) http.HandlerFunc {
	return a.authed(func(w http.ResponseWriter, r *http.Request, me chat.User) {
		if me.Role != chat.RoleAdmin {
			a.writeError(w, r, chat.Errorf(chat.CodeForbidden, "admin only"))
			return
		}
		h(w, r, me)
	})
}
