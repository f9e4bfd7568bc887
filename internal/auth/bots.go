package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/pawfect/hub/internal/chat"
)

// CreateBot creates a bot account owned by creator and returns it with its
// long-lived token. Only users and admins may create bots; name follows the
// username rules and becomes both the bot's username and display name.
func (s *Service) CreateBot(ctx context.Context, creator chat.User, name string) (chat.User, Token, error) {
	u, tok, err := s.createBot(ctx, creator, name)
	if err != nil {
		return chat.User{}, Token{}, fmt.Errorf("auth: create bot: %w", err)
	}
	return u, tok, nil
}

func (s *Service) createBot(ctx context.Context, creator chat.User, name string) (chat.User, Token, error) {
	if creator.Role != chat.RoleUser && creator.Role != chat.RoleAdmin {
		return chat.User{}, Token{}, chat.Errorf(chat.CodeForbidden, "guests and bots cannot create bots")
	}
	if err := checkName("name", name); err != nil {
		return chat.User{}, Token{}, err
	}
	a := chat.Account{
		User:      chat.User{ID: chat.NewID(userIDPrefix), Username: name, DisplayName: name, Role: chat.RoleBot},
		CreatedBy: creator.ID,
		CreatedAt: s.storedNow(),
	}
	if err := s.accts.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, chat.ErrConflict) {
			return chat.User{}, Token{}, chat.Wrap(chat.CodeConflict, err, "name is taken")
		}
		return chat.User{}, Token{}, err
	}
	tok, err := s.Issue(a.User)
	if err != nil {
		return chat.User{}, Token{}, err
	}
	return a.User, tok, nil
}

// RevokeBot deletes a bot account, which refuses its token from then on,
// and calls Options.OnRevoke. Only the bot's creator or an admin may; a
// missing, deleted or non-bot account is not_found.
func (s *Service) RevokeBot(ctx context.Context, actor chat.User, botID string) error {
	if err := s.revokeBot(ctx, actor, botID); err != nil {
		return fmt.Errorf("auth: revoke bot: %w", err)
	}
	return nil
}

func (s *Service) revokeBot(ctx context.Context, actor chat.User, botID string) error {
	a, err := s.accts.Account(ctx, botID)
	switch {
	case errors.Is(err, chat.ErrNotFound):
		return chat.Wrap(chat.CodeNotFound, err, "no such bot")
	case err != nil:
		return err
	case a.User.Role != chat.RoleBot:
		return chat.Errorf(chat.CodeNotFound, "no such bot")
	}
	if actor.Role != chat.RoleAdmin && (actor.ID == "" || actor.ID != a.CreatedBy) {
		return chat.Errorf(chat.CodeForbidden, "only the bot's creator or an admin may revoke it")
	}
	if err := s.accts.DeleteAccount(ctx, botID); err != nil {
		if errors.Is(err, chat.ErrNotFound) {
			return chat.Wrap(chat.CodeNotFound, err, "no such bot")
		}
		return err
	}
	if s.onRevoke != nil {
		s.onRevoke(ctx, botID)
	}
	return nil
}
