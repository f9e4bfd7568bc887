package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/pawfect/hub/internal/chat"
	"github.com/pawfect/hub/internal/server/servertest"
)

// createDirect posts a direct room with members and returns the status and
// the room.
func createDirect(t *testing.T, h *servertest.Hub, a servertest.Account, members ...string) (int, chat.Room) {
	t.Helper()
	status, body := h.Do(t, "POST", "/api/rooms", a.Token, map[string]any{"kind": "direct", "members": members})
	var r struct {
		Room chat.Room `json:"room"`
	}
	if status == http.StatusOK || status == http.StatusCreated {
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("create direct room: body %s: %v", body, err)
		}
	}
	return status, r.Room
}

func TestDirectRooms(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, nil)
		alice, bob, carol := h.Register(t, "alice"), h.Register(t, "bob"), h.Register(t, "carol")

		status, room := createDirect(t, h, alice, bob.User.ID)
		if status != http.StatusCreated || room.Kind != chat.KindDirect || room.ID == "" {
			t.Fatalf("first direct room: got %d %+v, want 201 and kind direct", status, room)
		}
		for _, tt := range []struct {
			name string
			by   servertest.Account
			with string
		}{
			{"again by alice", alice, bob.User.ID},
			{"by bob", bob, alice.User.ID},
		} {
			status, again := createDirect(t, h, tt.by, tt.with)
			if status != http.StatusOK || again.ID != room.ID {
				t.Errorf("direct room %s: got %d room %s, want 200 and the same room %s", tt.name, status, again.ID, room.ID)
			}
		}

		var detail struct {
			Room    chat.Room     `json:"room"`
			Members []chat.Member `json:"members"`
		}
		h.JSON(t, "GET", "/api/rooms/"+room.ID, bob.Token, nil, http.StatusOK, &detail)
		ids := map[string]bool{}
		for _, m := range detail.Members {
			ids[m.User.ID] = true
		}
		if len(detail.Members) != 2 || !ids[alice.User.ID] || !ids[bob.User.ID] {
			t.Fatalf("direct room members: got %+v, want alice and bob", detail.Members)
		}

		// Both sides talk.
		ca := h.Dial(t, servertest.DialOptions{Token: alice.Token})
		cb := h.Dial(t, servertest.DialOptions{Token: bob.Token})
		ca.Join(room.ID, -1)
		cb.Join(room.ID, -1)
		m := cb.Send(room.ID, "hi alice")
		if got := ca.Messages(1)[0]; got.ID != m.ID {
			t.Fatalf("alice's event: got %+v, want bob's message %s", got, m.ID)
		}

		// To a third user the room does not exist.
		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/rooms/" + room.ID, nil},
			{"GET", "/api/rooms/" + room.ID + "/messages", nil},
			{"POST", "/api/rooms/" + room.ID + "/messages", map[string]any{"text": "hello?"}},
			{"POST", "/api/rooms/" + room.ID + "/members", map[string]any{"user_id": carol.User.ID}},
		} {
			status, body := h.Do(t, req.method, req.path, carol.Token, req.body)
			if status != http.StatusNotFound || servertest.ErrorCode(t, body) != chat.CodeNotFound {
				t.Errorf("carol %s %s: got %d %s, want 404 not_found", req.method, req.path, status, body)
			}
		}
		cc := h.Dial(t, servertest.DialOptions{Token: carol.Token})
		cc.Fail("join", map[string]any{"room": room.ID}, chat.CodeNotFound)
		var list struct{ Rooms []chat.Room }
		h.JSON(t, "GET", "/api/rooms", carol.Token, nil, http.StatusOK, &list)
		for _, r := range list.Rooms {
			if r.ID == room.ID {
				t.Errorf("carol's room list holds alice and bob's direct room")
			}
		}

		// A direct room has exactly two members.
		status, body := h.Do(t, "POST", "/api/rooms/"+room.ID+"/members", alice.Token, map[string]any{"user_id": carol.User.ID})
		if status != http.StatusConflict || servertest.ErrorCode(t, body) != chat.CodeConflict {
			t.Errorf("alice adds carol to the direct room: got %d %s, want 409 conflict", status, body)
		}
		h.JSON(t, "GET", "/api/rooms/"+room.ID, alice.Token, nil, http.StatusOK, &detail)
		if len(detail.Members) != 2 {
			t.Errorf("members after the refused add: got %d, want 2", len(detail.Members))
		}
		if status, _ := h.Do(t, "GET", "/api/rooms/"+room.ID, carol.Token, nil); status != http.StatusNotFound {
			t.Errorf("carol after the refused add: got %d, want 404", status)
		}

		for _, tt := range []struct {
			name    string
			members []string
		}{
			{"no members", nil},
			{"only myself", []string{alice.User.ID}},
			{"two others", []string{bob.User.ID, carol.User.ID}},
			{"unknown user", []string{"usr_nobody"}},
		} {
			status, body := h.Do(t, "POST", "/api/rooms", alice.Token, map[string]any{"kind": "direct", "members": tt.members})
			if status != http.StatusBadRequest || servertest.ErrorCode(t, body) != chat.CodeBadRequest {
				t.Errorf("direct room with %s: got %d %s, want 400 bad_request", tt.name, status, body)
			}
		}
	})
}

// TestDirectRoomCreatedOnce: both sides asking at once get one room, and
// exactly one of them a 201.
func TestDirectRoomCreatedOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b servertest.Backend) {
		h := startHub(t, b, nil)
		alice, bob := h.Register(t, "alice"), h.Register(t, "bob")
		const n = 8
		results := make([]directResult, n)
		var wg sync.WaitGroup
		for i := range n {
			by, with := alice, bob
			if i%2 == 1 {
				by, with = bob, alice
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = postDirect(h, by.Token, with.User.ID)
			}()
		}
		wg.Wait()
		created, rooms := 0, map[string]bool{}
		for i, r := range results {
			if r.err != nil {
				t.Fatalf("request %d: %v", i, r.err)
			}
			switch r.status {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Fatalf("request %d: got status %d, want 200 or 201", i, r.status)
			}
			rooms[r.room] = true
		}
		if created != 1 || len(rooms) != 1 {
			t.Fatalf("%d concurrent requests: got %d created (201) and %d distinct rooms, want 1 and 1", n, created, len(rooms))
		}
	})
}

type directResult struct {
	status int
	room   string
	err    error
}

// postDirect is createDirect for goroutines: it reports instead of failing.
func postDirect(h *servertest.Hub, token, with string) (r directResult) {
	body, _ := json.Marshal(map[string]any{"kind": "direct", "members": []string{with}})
	req, err := http.NewRequest("POST", h.URL+"/api/rooms", bytes.NewReader(body))
	if err != nil {
		r.err = err
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		r.err = err
		return r
	}
	r.status = resp.StatusCode
	var out struct {
		Room chat.Room `json:"room"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		r.err = fmt.Errorf("status %d body %s: %w", resp.StatusCode, raw, err)
	}
	r.room = out.Room.ID
	return r
}
