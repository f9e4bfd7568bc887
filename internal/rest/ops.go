package rest

import (
	"context"
	"net/http"

	"github.com/pawfect/hub/internal/chat"
)

// Inspector answers the operators' questions for the whole service, from
// whichever hub is asked.
type Inspector interface {
	Rooms(ctx context.Context) ([]chat.RoomStats, []chat.NodeStatus, error)
	Room(ctx context.Context, roomID string) (chat.RoomDetail, error)
	Disconnect(ctx context.Context, connID string) (node string, err error)
}

func (a *API) registerOps(mux *http.ServeMux) {
	if a.ops == nil {
		return
	}
	mux.HandleFunc("GET /api/admin/rooms", a.adminOnly(a.adminRooms))
	mux.HandleFunc("GET /api/admin/rooms/{id}", a.adminOnly(a.adminRoom))
	mux.HandleFunc("DELETE /api/admin/connections/{id}", a.adminOnly(a.adminDisconnect))
}

func (a *API) adminRooms(w http.ResponseWriter, r *http.Request, _ chat.User) {
	rooms, nodes, err := a.ops.Rooms(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": rooms, "nodes": nodes})
}

func (a *API) adminRoom(w http.ResponseWriter, r *http.Request, _ chat.User) {
	d, err := a.ops.Room(r.Context(), r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// adminDisconnect closes one connection, on whichever hub holds it, with
// close code 4003. The client may reconnect; to keep a user out of a room,
// remove them from it (DELETE /api/rooms/{id}/members/{user}), and to keep
// a bot out, revoke it.
func (a *API) adminDisconnect(w http.ResponseWriter, r *http.Request, me chat.User) {
	id := r.PathValue("id")
	node, err := a.ops.Disconnect(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.record(r, &me, chat.AuditAdminDisconnect, id, map[string]string{"node": node})
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "node": node})
}
