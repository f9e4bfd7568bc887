package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pawfect/hub/internal/chat"
)

// maxTokenLen bounds the token strings Authenticate will parse; the hub's
// own are about 250 bytes.
const maxTokenLen = 4096

// Issue signs a token for u, valid for BotTokenTTL if u is a bot and
// TokenTTL otherwise. Claims: sub (u.ID), iss, iat, exp, jti.
func (s *Service) Issue(u chat.User) (Token, error) {
	if u.ID == "" {
		return Token{}, fmt.Errorf("auth: issue: user has no ID")
	}
	ttl := s.tokenTTL
	if u.Role == chat.RoleBot {
		ttl = s.botTokenTTL
	}
	// JWT times have whole seconds; truncate so ExpiresAt equals exp.
	now := s.clock().Truncate(time.Second)
	exp := now.Add(ttl)
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	claims := jwt.RegisteredClaims{
		Subject:   u.ID,
		Issuer:    s.issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		ID:        hex.EncodeToString(jti[:]),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
	if err != nil {
		return Token{}, fmt.Errorf("auth: issue: %w", err)
	}
	return Token{Token: signed, ExpiresAt: exp}, nil
}

// Authenticate checks a token and returns the current user it names, as
// stored now (a changed display name shows at once). Every refusal is an
// unauthorized *chat.Error: a malformed token or one signed with another
// key or algorithm ("invalid token"), an expired one ("token expired"), or
// one whose account was deleted or whose bot was revoked ("account no
// longer exists"). Store failures are returned as they are, wrapped, so an
// outage answers unavailable rather than sending a valid client to log in.
func (s *Service) Authenticate(ctx context.Context, token string) (chat.User, error) {
	u, err := s.authenticate(ctx, token)
	if err != nil {
		return chat.User{}, fmt.Errorf("auth: authenticate: %w", err)
	}
	return u, nil
}

func (s *Service) authenticate(ctx context.Context, token string) (chat.User, error) {
	if token == "" || len(token) > maxTokenLen {
		return chat.User{}, chat.Errorf(chat.CodeUnauthorized, "invalid token")
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(s.issuer),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(s.now),
	)
	var claims jwt.RegisteredClaims
	_, err := p.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return chat.User{}, chat.Wrap(chat.CodeUnauthorized, err, "token expired")
	case err != nil:
		return chat.User{}, chat.Wrap(chat.CodeUnauthorized, err, "invalid token")
	case claims.Subject == "":
		return chat.User{}, chat.Errorf(chat.CodeUnauthorized, "invalid token")
	}
	a, err := s.accts.Account(ctx, claims.Subject)
	switch {
	case errors.Is(err, chat.ErrNotFound):
		return chat.User{}, chat.Wrap(chat.CodeUnauthorized, err, "account no longer exists")
	case err != nil:
		return chat.User{}, err
	}
	return a.User, nil
}
