package rooms

import (
	"context"
	"fmt"

	"github.com/pawfect/hub/internal/chat"
)

// visibleRoom returns the room if u may read and post in it: anyone signed
// in for a public room, members only otherwise. To anyone else a private or
// direct room does not exist.
func (s *Service) visibleRoom(ctx context.Context, u chat.User, roomID string) (chat.Room, error) {
	room, err := s.store.Room(ctx, roomID)
	if isNotFound(err) {
		return chat.Room{}, errNotVisible()
	}
	if err != nil {
		return chat.Room{}, fmt.Errorf("rooms: read room: %w", err)
	}
	if room.Kind == chat.KindPublic {
		return room, nil
	}
	if _, err := s.memberRole(ctx, roomID, u.ID); err != nil {
		return chat.Room{}, err
	}
	return room, nil
}

// memberRole is the store's MemberRole with not-found turned into the
// room's invisibility.
func (s *Service) memberRole(ctx context.Context, roomID, userID string) (chat.MemberRole, error) {
	role, err := s.store.MemberRole(ctx, roomID, userID)
	if isNotFound(err) {
		return "", errNotVisible()
	}
	if err != nil {
		return "", fmt.Errorf("rooms: read membership: %w", err)
	}
	return role, nil
}

// canManage reports whether u may change the room's membership: its owner
// or an admin. A non-member of a private room cannot see it at all.
func (s *Service) canManage(ctx context.Context, u chat.User, room chat.Room) error {
	if u.Role == chat.RoleAdmin {
		return nil
	}
	role, err := s.store.MemberRole(ctx, room.ID, u.ID)
	switch {
	case isNotFound(err) && room.Kind != chat.KindPublic:
		return errNotVisible()
	case isNotFound(err):
		return chat.Errorf(chat.CodeForbidden, "only the room's owner or an admin may change its members")
	case err != nil:
		return fmt.Errorf("rooms: read membership: %w", err)
	case role != chat.MemberOwner:
		return chat.Errorf(chat.CodeForbidden, "only the room's owner or an admin may change its members")
	}
	return nil
}

// CanJoin returns the room if u may join it (and so take part in its
// call): anyone signed in for a public room, members otherwise.
func (s *Service) CanJoin(ctx context.Context, u chat.User, roomID string) (chat.Room, error) {
	return s.visibleRoom(ctx, u, roomID)
}

// Members lists a room's members, for services (calls) that act on the
// room as a whole; callers have checked the asker's right to the room.
func (s *Service) Members(ctx context.Context, roomID string) ([]chat.Member, error) {
	ms, err := s.store.Members(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("rooms: list members: %w", err)
	}
	return ms, nil
}
