package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/pawfect/hub/internal/chat"
	"golang.org/x/crypto/bcrypt"
)

// Accounts is the part of a store the auth service uses. Its semantics are
// those of the store contract (internal/store/storetest): not-found and
// duplicate conditions wrap chat.ErrNotFound and chat.ErrConflict, an
// unreachable backend wraps chat.ErrUnavailable.
type Accounts interface {
	// CreateAccount inserts a new account; chat.ErrConflict if the
	// username is taken (deleted accounts included).
	CreateAccount(ctx context.Context, a chat.Account) error
	// Account returns a live account by ID; chat.ErrNotFound otherwise.
	Account(ctx context.Context, id string) (chat.Account, error)
	// AccountByUsername returns a live account; chat.ErrNotFound otherwise.
	AccountByUsername(ctx context.Context, username string) (chat.Account, error)
	// UpsertAdmin makes a live admin with a.User.Username and
	// a.PasswordHash exist and returns it as stored.
	UpsertAdmin(ctx context.Context, a chat.Account) (chat.Account, error)
	// DeleteAccount marks a live account deleted; chat.ErrNotFound otherwise.
	DeleteAccount(ctx context.Context, id string) error
}

// Defaults and limits of Options.
const (
	DefaultIssuer      = "pawfect-hub"
	DefaultTokenTTL    = 24 * time.Hour
	DefaultBotTokenTTL = 87600 * time.Hour // ten years
	DefaultBcryptCost  = 12
	MinBcryptCost      = 10
	MaxBcryptCost      = 16
	// MinSecretLen is the shortest HMAC key accepted, in bytes.
	MinSecretLen = 32
	// Leeway is the clock skew between hubs tolerated on exp and iat.
	Leeway = 30 * time.Second
)

// Options configures a Service. Only Secret is required.
type Options struct {
	// Secret is the HMAC-SHA256 key tokens are signed with, ≥ 32 bytes.
	Secret []byte
	// Issuer is the iss claim written and required; "pawfect-hub" if empty.
	Issuer string
	// TokenTTL is the lifetime of user, admin and guest tokens; 24h if zero.
	TokenTTL time.Duration
	// BotTokenTTL is the lifetime of bot tokens; 87600h (ten years) if zero.
	BotTokenTTL time.Duration
	// BcryptCost is the bcrypt work factor, 10..16; 12 if zero.
	BcryptCost int
	// OnRevoke, if set, is called after a bot's account is deleted by
	// RevokeBot, e.g. to close the bot's open connections.
	OnRevoke func(ctx context.Context, userID string)
	// Now is the clock; time.Now if nil. For tests.
	Now func() time.Time
}

// Service registers, logs in and authenticates accounts. It is safe for
// concurrent use.
type Service struct {
	accts       Accounts
	secret      []byte
	issuer      string
	tokenTTL    time.Duration
	botTokenTTL time.Duration
	cost        int
	onRevoke    func(ctx context.Context, userID string)
	now         func() time.Time
	// dummyHash is compared against when a login names no usable account,
	// so that a wrong username costs as much time as a wrong password.
	dummyHash []byte
}

// Token is a signed access token and the moment it stops being accepted.
type Token struct {
	Token     string
	ExpiresAt time.Time
}

// New returns a Service over accts. It fails if the secret is shorter than
// 32 bytes, the bcrypt cost is outside 10..16 or a TTL is negative.
func New(accts Accounts, opts Options) (*Service, error) {
	return newService(accts, opts, MinBcryptCost)
}

// newService is New with a lower bound on the bcrypt cost, which tests
// lower to keep hashing fast under the race detector.
func newService(accts Accounts, opts Options, minCost int) (*Service, error) {
	if accts == nil {
		return nil, fmt.Errorf("auth: new: no account store")
	}
	if len(opts.Secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: new: secret is %d bytes, need at least %d", len(opts.Secret), MinSecretLen)
	}
	s := &Service{
		accts:       accts,
		secret:      append([]byte(nil), opts.Secret...),
		issuer:      opts.Issuer,
		tokenTTL:    opts.TokenTTL,
		botTokenTTL: opts.BotTokenTTL,
		cost:        opts.BcryptCost,
		onRevoke:    opts.OnRevoke,
		now:         opts.Now,
	}
	if s.issuer == "" {
		s.issuer = DefaultIssuer
	}
	if s.tokenTTL == 0 {
		s.tokenTTL = DefaultTokenTTL
	}
	if s.botTokenTTL == 0 {
		s.botTokenTTL = DefaultBotTokenTTL
	}
	if s.tokenTTL < 0 || s.botTokenTTL < 0 {
		return nil, fmt.Errorf("auth: new: token lifetimes must be positive (got %v and %v)", s.tokenTTL, s.botTokenTTL)
	}
	if s.cost == 0 {
		s.cost = DefaultBcryptCost
	}
	if s.cost < minCost || s.cost > MaxBcryptCost {
		return nil, fmt.Errorf("auth: new: bcrypt cost %d outside %d..%d", s.cost, MinBcryptCost, MaxBcryptCost)
	}
	if s.now == nil {
		s.now = time.Now
	}
	// The dummy password is random so that no one can log in with it,
	// even if a code path ever compared a real login against it.
	var dummy [32]byte
	_, _ = rand.Read(dummy[:]) // never fails (crypto/rand panics instead)
	h, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(dummy[:])), s.cost)
	if err != nil {
		return nil, fmt.Errorf("auth: new: dummy hash: %w", err)
	}
	s.dummyHash = h
	return s, nil
}

// clock returns the current time in UTC.
func (s *Service) clock() time.Time { return s.now().UTC() }

// hash returns the bcrypt hash of a password already validated.
func (s *Service) hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return "", err
	}
	return string(h), nil
}
