package rooms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pawfect/hub/internal/chat"
)

// Room limits.
const (
	maxRoomName    = 100
	maxRoomMembers = 1000 // members named at creation
)

// CreateRoomRequest is the body of POST /api/rooms.
type CreateRoomRequest struct {
	Name    string         `json:"name"`
	Kind    chat.RoomKind  `json:"kind"`
	Members []string       `json:"members,omitempty"`
	AI      *chat.AIConfig `json:"ai,omitempty"`
}

// CreateRoom creates a room owned by u. For a direct room with a user who
// already shares one with u, it returns that room and created=false.
func (s *Service) CreateRoom(ctx context.Context, u chat.User, req CreateRoomRequest) (chat.Room, bool, error) {
	if u.Role == chat.RoleGuest {
		return chat.Room{}, false, chat.Errorf(chat.CodeForbidden, "guests may not create rooms")
	}
	name := strings.TrimSpace(req.Name)
	if !req.Kind.Valid() {
		return chat.Room{}, false, chat.Errorf(chat.CodeBadRequest, "kind: must be public, private or direct")
	}
	if name == "" && req.Kind != chat.KindDirect {
		return chat.Room{}, false, chat.Errorf(chat.CodeBadRequest, "name: required")
	}
	if utf8.RuneCountInString(name) > maxRoomName || !utf8.ValidString(name) {
		return chat.Room{}, false, chat.Errorf(chat.CodeBadRequest, "name: at most %d characters of valid UTF-8", maxRoomName)
	}
	if err := validateAI(req.AI); err != nil {
		return chat.Room{}, false, err
	}
	members := dedupe(req.Members, u.ID)
	if len(members) > maxRoomMembers {
		return chat.Room{}, false, chat.Errorf(chat.CodeBadRequest, "members: at most %d", maxRoomMembers)
	}
	for _, id := range members {
		if _, err := s.store.Account(ctx, id); isNotFound(err) {
			return chat.Room{}, false, chat.Errorf(chat.CodeBadRequest, "members: no such user %q", id)
		} else if err != nil {
			return chat.Room{}, false, fmt.Errorf("rooms: create room: read member: %w", err)
		}
	}
	var directKey string
	if req.Kind == chat.KindDirect {
		if len(members) != 1 {
			return chat.Room{}, false, chat.Errorf(chat.CodeBadRequest, "members: a direct room needs exactly one other user")
		}
		directKey = DirectKey(u.ID, members[0])
		if existing, err := s.store.DirectRoom(ctx, directKey); err == nil {
			return existing, false, nil
		} else if !isNotFound(err) {
			return chat.Room{}, false, fmt.Errorf("rooms: create room: %w", err)
		}
	}
	room := chat.Room{
		ID: chat.NewID("r_"), Name: name, Kind: req.Kind, CreatedBy: u.ID,
		CreatedAt: chat.Now(), AI: req.AI,
	}
	err := s.store.CreateRoom(ctx, room, u.ID, members, directKey)
	if errors.Is(err, chat.ErrConflict) && directKey != "" {
		// Another request created the pair's room first.
		existing, err := s.store.DirectRoom(ctx, directKey)
		if err != nil {
			return chat.Room{}, false, fmt.Errorf("rooms: create room: %w", err)
		}
		return existing, false, nil
	}
	if err != nil {
		return chat.Room{}, false, fmt.Errorf("rooms: create room: %w", err)
	}
	return room, true, nil
}

// DirectKey names the direct room of a pair of users, in either order.
func DirectKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + ":" + b
}

func dedupe(ids []string, self string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != self && id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func validateAI(ai *chat.AIConfig) error {
	if ai == nil {
		return nil
	}
	switch ai.Trigger {
	case "mention", "always":
	case "":
		ai.Trigger = "mention"
	default:
		return chat.Errorf(chat.CodeBadRequest, "ai.trigger: must be mention or always")
	}
	if len(ai.Models) > 8 {
		return chat.Errorf(chat.CodeBadRequest, "ai.models: at most 8")
	}
	if utf8.RuneCountInString(ai.SystemPrompt) > 8000 {
		return chat.Errorf(chat.CodeBadRequest, "ai.system_prompt: at most 8000 characters")
	}
	if ai.Models == nil {
		ai.Models = []string{}
	}
	return nil
}

// ListRooms returns the public rooms and those u belongs to.
func (s *Service) ListRooms(ctx context.Context, u chat.User) ([]chat.Room, error) {
	rooms, err := s.store.RoomsFor(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("rooms: list rooms: %w", err)
	}
	if rooms == nil {
		rooms = []chat.Room{}
	}
	return rooms, nil
}

// GetRoom returns a room u may see, with its members.
func (s *Service) GetRoom(ctx context.Context, u chat.User, roomID string) (chat.Room, []chat.Member, error) {
	room, err := s.visibleRoom(ctx, u, roomID)
	if err != nil {
		return chat.Room{}, nil, err
	}
	members, err := s.store.Members(ctx, roomID)
	if err != nil {
		return chat.Room{}, nil, fmt.Errorf("rooms: list members: %w", err)
	}
	if members == nil {
		members = []chat.Member{}
	}
	return room, members, nil
}

// AddMember adds userID to a room; u must be its owner or an admin.
func (s *Service) AddMember(ctx context.Context, u chat.User, roomID, userID string) error {
	room, err := s.roomForManager(ctx, u, roomID)
	if err != nil {
		return err
	}
	if room.Kind == chat.KindDirect {
		return chat.Errorf(chat.CodeConflict, "a direct room has exactly two members")
	}
	if userID == "" {
		return chat.Errorf(chat.CodeBadRequest, "user_id: required")
	}
	err = s.store.AddMember(ctx, roomID, userID, chat.MemberMember)
	switch {
	case errors.Is(err, chat.ErrConflict):
		return chat.Errorf(chat.CodeConflict, "already a member")
	case isNotFound(err):
		return chat.Errorf(chat.CodeNotFound, "no such user")
	case err != nil:
		return fmt.Errorf("rooms: add member: %w", err)
	}
	return nil
}

// RemoveMember removes userID from a room; u must be its owner, an admin,
// or userID. The removed user's connections leave the room on every hub.
func (s *Service) RemoveMember(ctx context.Context, u chat.User, roomID, userID string) error {
	var room chat.Room
	var err error
	if userID == u.ID {
		room, err = s.visibleRoom(ctx, u, roomID)
	} else {
		room, err = s.roomForManager(ctx, u, roomID)
	}
	if err != nil {
		return err
	}
	if room.Kind == chat.KindDirect {
		return chat.Errorf(chat.CodeConflict, "a direct room has exactly two members; unmatch or block instead")
	}
	role, err := s.store.MemberRole(ctx, roomID, userID)
	switch {
	case isNotFound(err):
		return chat.Errorf(chat.CodeNotFound, "not a member")
	case err != nil:
		return fmt.Errorf("rooms: remove member: %w", err)
	case role == chat.MemberOwner:
		return chat.Errorf(chat.CodeConflict, "the owner cannot be removed")
	}
	if err := s.store.RemoveMember(ctx, roomID, userID); isNotFound(err) {
		return chat.Errorf(chat.CodeNotFound, "not a member")
	} else if err != nil {
		return fmt.Errorf("rooms: remove member: %w", err)
	}
	ev := encode(ctlEvent{Type: ctlMemberRemoved, User: userID})
	if err := s.bus.Publish(ctx, s.bus.RoomCtl(roomID), ev); err != nil {
		s.metrics.PublishFailed()
		s.log.WarnContext(ctx, "rooms: publish member removal", "room", roomID, "err", err)
	}
	return nil
}

func (s *Service) roomForManager(ctx context.Context, u chat.User, roomID string) (chat.Room, error) {
	room, err := s.store.Room(ctx, roomID)
	if isNotFound(err) {
		return chat.Room{}, errNotVisible()
	}
	if err != nil {
		return chat.Room{}, fmt.Errorf("rooms: read room: %w", err)
	}
	if err := s.canManage(ctx, u, room); err != nil {
		return chat.Room{}, err
	}
	return room, nil
}
