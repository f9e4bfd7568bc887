package auth

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"golang.org/x/crypto/bcrypt"
)

// userIDPrefix starts the ID of every account, bots and guests included.
const userIDPrefix = "usr_"

// msgBadLogin is the one answer to a wrong username or password.
const msgBadLogin = "wrong username or password"

// guestEncoding writes guest usernames in [a-z2-7], inside [a-z0-9_].
var guestEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Register creates an account with role user and returns it with a token.
// An empty displayName defaults to the username.
func (s *Service) Register(ctx context.Context, username, password, displayName string) (chat.User, Token, error) {
	u, tok, err := s.register(ctx, username, password, displayName)
	if err != nil {
		return chat.User{}, Token{}, fmt.Errorf("auth: register: %w", err)
	}
	return u, tok, nil
}

func (s *Service) register(ctx context.Context, username, password, display string) (chat.User, Token, error) {
	if err := checkName("username", username); err != nil {
		return chat.User{}, Token{}, err
	}
	if err := checkPassword(password); err != nil {
		return chat.User{}, Token{}, err
	}
	display, err := displayName(display, username)
	if err != nil {
		return chat.User{}, Token{}, err
	}
	hash, err := s.hash(password)
	if err != nil {
		return chat.User{}, Token{}, err
	}
	a := chat.Account{
		User:         chat.User{ID: chat.NewID(userIDPrefix), Username: username, DisplayName: display, Role: chat.RoleUser},
		PasswordHash: hash,
		CreatedAt:    s.storedNow(),
	}
	if err := s.accts.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, chat.ErrConflict) {
			return chat.User{}, Token{}, chat.Wrap(chat.CodeConflict, err, "username is taken")
		}
		return chat.User{}, Token{}, err
	}
	tok, err := s.Issue(a.User)
	if err != nil {
		return chat.User{}, Token{}, err
	}
	return a.User, tok, nil
}

// Login checks a username and password and returns the user with a new
// token. A wrong username and a wrong password get the same unauthorized
// error and take about the same time; guests and bots, which have no
// password, cannot log in this way.
func (s *Service) Login(ctx context.Context, username, password string) (chat.User, Token, error) {
	u, tok, err := s.login(ctx, username, password)
	if err != nil {
		return chat.User{}, Token{}, fmt.Errorf("auth: login: %w", err)
	}
	return u, tok, nil
}

func (s *Service) login(ctx context.Context, username, password string) (chat.User, Token, error) {
	a, err := s.accts.AccountByUsername(ctx, username)
	switch {
	case errors.Is(err, chat.ErrNotFound):
		a = chat.Account{}
	case err != nil:
		return chat.User{}, Token{}, err
	}
	usable := a.PasswordHash != "" && (a.User.Role == chat.RoleUser || a.User.Role == chat.RoleAdmin) &&
		len(password) <= MaxPasswordBytes
	if !usable {
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
		return chat.User{}, Token{}, chat.Errorf(chat.CodeUnauthorized, msgBadLogin)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(password)); err != nil {
		return chat.User{}, Token{}, chat.Wrap(chat.CodeUnauthorized, err, msgBadLogin)
	}
	tok, err := s.Issue(a.User)
	if err != nil {
		return chat.User{}, Token{}, err
	}
	return a.User, tok, nil
}

// Guest creates a guest account (role guest, no password) named "guest_"
// and 16 random letters and digits, and returns it with a token. An empty
// displayName defaults to "Guest".
func (s *Service) Guest(ctx context.Context, displayName string) (chat.User, Token, error) {
	u, tok, err := s.guest(ctx, displayName)
	if err != nil {
		return chat.User{}, Token{}, fmt.Errorf("auth: guest: %w", err)
	}
	return u, tok, nil
}

func (s *Service) guest(ctx context.Context, display string) (chat.User, Token, error) {
	display, err := displayName(display, "Guest")
	if err != nil {
		return chat.User{}, Token{}, err
	}
	// 80 random bits make a clash all but impossible; retry a little anyway.
	for attempt := 0; ; attempt++ {
		var b [10]byte
		_, _ = rand.Read(b[:])
		a := chat.Account{
			User: chat.User{
				ID:          chat.NewID(userIDPrefix),
				Username:    GuestPrefix + guestEncoding.EncodeToString(b[:]),
				DisplayName: display,
				Role:        chat.RoleGuest,
			},
			CreatedAt: s.storedNow(),
		}
		err := s.accts.CreateAccount(ctx, a)
		if errors.Is(err, chat.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return chat.User{}, Token{}, err
		}
		tok, err := s.Issue(a.User)
		if err != nil {
			return chat.User{}, Token{}, err
		}
		return a.User, tok, nil
	}
}

// EnsureAdmin makes sure a live admin account with this username and
// password exists (HUB_BOOTSTRAP_ADMIN), validating both like Register. An
// existing account keeps its ID and display name and becomes an admin with
// the given password.
func (s *Service) EnsureAdmin(ctx context.Context, username, password string) (chat.User, error) {
	u, err := s.ensureAdmin(ctx, username, password)
	if err != nil {
		return chat.User{}, fmt.Errorf("auth: ensure admin: %w", err)
	}
	return u, nil
}

func (s *Service) ensureAdmin(ctx context.Context, username, password string) (chat.User, error) {
	if err := checkName("username", username); err != nil {
		return chat.User{}, err
	}
	if err := checkPassword(password); err != nil {
		return chat.User{}, err
	}
	hash, err := s.hash(password)
	if err != nil {
		return chat.User{}, err
	}
	a, err := s.accts.UpsertAdmin(ctx, chat.Account{
		User:         chat.User{ID: chat.NewID(userIDPrefix), Username: username, DisplayName: username, Role: chat.RoleAdmin},
		PasswordHash: hash,
		CreatedAt:    s.storedNow(),
	})
	if err != nil {
		return chat.User{}, err
	}
	return a.User, nil
}

// storedNow is the clock reading for stored times, truncated like chat.Now.
func (s *Service) storedNow() time.Time { return s.clock().Truncate(time.Microsecond) }
