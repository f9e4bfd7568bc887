package rest

import (
	"net/http"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/rooms"
)

func (a *API) registerRooms(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/rooms", a.authed(a.createRoom))
	mux.HandleFunc("GET /api/rooms", a.authed(a.listRooms))
	mux.HandleFunc("GET /api/rooms/{id}", a.authed(a.getRoom))
	mux.HandleFunc("POST /api/rooms/{id}/members", a.authed(a.addMember))
	mux.HandleFunc("DELETE /api/rooms/{id}/members/{user_id}", a.authed(a.removeMember))
	mux.HandleFunc("GET /api/rooms/{id}/messages", a.authed(a.history))
	mux.HandleFunc("POST /api/rooms/{id}/messages", a.authed(a.postMessage))
}

type roomBody struct {
	Room chat.Room `json:"room"`
}

// roomCreated is the detail of a room.create entry. Members are the user
// IDs the request named (each one checked to exist), so the access granted
// at creation shows in the log as well as later member_add entries.
type roomCreated struct {
	Name    string        `json:"name"`
	Kind    chat.RoomKind `json:"kind"`
	Members []string      `json:"members,omitempty"`
}

// memberDetail is the detail of room.member_add and room.member_remove.
type memberDetail struct {
	UserID string `json:"user_id"`
}

func (a *API) createRoom(w http.ResponseWriter, r *http.Request, me chat.User) {
	var req rooms.CreateRoomRequest
	if err := decode(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	room, created, err := a.rooms.CreateRoom(r.Context(), me, req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK // the pair's existing direct room: nothing to record
	if created {
		status = http.StatusCreated
		a.record(r, &me, chat.AuditRoomCreate, room.ID, roomCreated{Name: room.Name, Kind: room.Kind, Members: req.Members})
	}
	writeJSON(w, status, roomBody{Room: room})
}

func (a *API) listRooms(w http.ResponseWriter, r *http.Request, me chat.User) {
	list, err := a.rooms.ListRooms(r.Context(), me)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Rooms []chat.Room `json:"rooms"`
	}{list})
}

func (a *API) getRoom(w http.ResponseWriter, r *http.Request, me chat.User) {
	room, members, err := a.rooms.GetRoom(r.Context(), me, r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Room    chat.Room     `json:"room"`
		Members []chat.Member `json:"members"`
	}{room, members})
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request, me chat.User) {
	var req struct {
		UserID string `json:"user_id"`
	}
	if err := decode(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.rooms.AddMember(r.Context(), me, r.PathValue("id"), req.UserID); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.record(r, &me, chat.AuditRoomMemberAdd, r.PathValue("id"), memberDetail{UserID: req.UserID})
	writeJSON(w, http.StatusCreated, struct{}{})
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request, me chat.User) {
	if err := a.rooms.RemoveMember(r.Context(), me, r.PathValue("id"), r.PathValue("user_id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.record(r, &me, chat.AuditRoomMemberRemove, r.PathValue("id"), memberDetail{UserID: r.PathValue("user_id")})
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) history(w http.ResponseWriter, r *http.Request, me chat.User) {
	before, err := queryInt(r, "before_seq")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	after, err := queryInt(r, "after_seq")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	msgs, more, err := a.rooms.History(r.Context(), me, r.PathValue("id"), rooms.HistoryRequest{
		BeforeSeq: before, AfterSeq: after, After: r.URL.Query().Has("after_seq"), Limit: int(min(limit, 1<<20)),
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Messages []chat.Message `json:"messages"`
		HasMore  bool           `json:"has_more"`
	}{msgs, more})
}

func (a *API) postMessage(w http.ResponseWriter, r *http.Request, me chat.User) {
	var req struct {
		Text        *string  `json:"text"`
		ClientMsgID string   `json:"client_msg_id"`
		ReplyTo     *int64   `json:"reply_to"`
		Attachments []string `json:"attachments"`
	}
	if err := decode(r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Text == nil {
		a.writeError(w, r, chat.Errorf(chat.CodeBadRequest, "text: required"))
		return
	}
	m, err := a.rooms.Send(r.Context(), me, rooms.SendRequest{
		Room: r.PathValue("id"), Text: *req.Text, ClientMsgID: req.ClientMsgID,
		ReplyTo: req.ReplyTo, Attachments: req.Attachments,
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Message chat.Message `json:"message"`
	}{m})
}
