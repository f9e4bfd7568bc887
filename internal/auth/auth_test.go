package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pawfect/hub/internal/auth"
	"github.com/pawfect/hub/internal/chat"
	"golang.org/x/crypto/bcrypt"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// testCost is bcrypt's minimum cost, below what New accepts: NewCheap
// allows it so that the suite stays fast under -race.
const testCost = bcrypt.MinCost

// newService returns a cheap-hashing Service over a fresh store; edit may
// change the options first.
func newService(t *testing.T, edit func(*auth.Options)) (*auth.Service, auth.Accounts) {
	t.Helper()
	st := newStore(t)
	opts := auth.Options{Secret: testSecret, BcryptCost: testCost}
	if edit != nil {
		edit(&opts)
	}
	s, err := auth.NewCheap(st, opts)
	if err != nil {
		t.Fatalf("New: got error %v, want nil", err)
	}
	return s, st
}

// checkErr fails unless err is a *chat.Error with code and, if msg is not
// empty, a message containing msg.
func checkErr(t *testing.T, err error, code chat.Code, msg string) {
	t.Helper()
	var e *chat.Error
	if !errors.As(err, &e) {
		t.Fatalf("error: got %v, want a *chat.Error with code %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("error code: got %s (%v), want %s", e.Code, err, code)
	}
	if msg != "" && !strings.Contains(e.Message, msg) {
		t.Fatalf("error message: got %q, want it to contain %q", e.Message, msg)
	}
}

func mustRegister(t *testing.T, s *auth.Service, username string) (chat.User, auth.Token) {
	t.Helper()
	u, tok, err := s.Register(context.Background(), username, "correct horse", "")
	if err != nil {
		t.Fatalf("Register(%q): got error %v, want nil", username, err)
	}
	return u, tok
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		opts auth.Options
		ok   bool
	}{
		{"defaults", auth.Options{Secret: testSecret, BcryptCost: 10}, true},
		{"short secret", auth.Options{Secret: testSecret[:31], BcryptCost: 10}, false},
		{"no secret", auth.Options{BcryptCost: 10}, false},
		{"cost too low", auth.Options{Secret: testSecret, BcryptCost: 9}, false},
		{"cost too high", auth.Options{Secret: testSecret, BcryptCost: 17}, false},
		{"negative ttl", auth.Options{Secret: testSecret, BcryptCost: 10, TokenTTL: -time.Hour}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.New(newStore(t), tt.opts)
			if got := err == nil; got != tt.ok {
				t.Fatalf("New: got error %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := auth.NewCheap(newStore(t), auth.Options{Secret: testSecret, BcryptCost: 3}); err == nil {
		t.Fatalf("NewCheap(cost 3): got nil error, want one")
	}
}

func TestRegisterHashesAtConfiguredCost(t *testing.T) {
	st := newStore(t)
	s, err := auth.New(st, auth.Options{Secret: testSecret, BcryptCost: auth.MinBcryptCost})
	if err != nil {
		t.Fatalf("New: got error %v, want nil", err)
	}
	ctx := context.Background()
	u, _ := mustRegister(t, s, "alice")
	a, err := st.Account(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(a.PasswordHash)); err != nil || cost != auth.MinBcryptCost {
		t.Fatalf("stored hash cost: got %d, %v, want %d", cost, err, auth.MinBcryptCost)
	}
	if bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte("correct horse")) != nil {
		t.Fatalf("stored hash: got a hash that does not match the password, want a match")
	}

	// An unknown username must cost a bcrypt comparison too. Without the
	// dummy hash it would be about a thousand times faster, so a tenth is a
	// safe bound on a loaded machine.
	timeLogin := func(username string) time.Duration {
		start := time.Now()
		_, _, err := s.Login(ctx, username, "wrong password")
		checkErr(t, err, chat.CodeUnauthorized, "wrong username or password")
		return time.Since(start)
	}
	wrongPassword, unknownUser := timeLogin("alice"), timeLogin("nobody")
	if unknownUser < wrongPassword/10 {
		t.Fatalf("login time for an unknown user: got %v, want close to a wrong password's %v", unknownUser, wrongPassword)
	}
}

func TestRegisterValidation(t *testing.T) {
	s, _ := newService(t, nil)
	ok := "good password"
	tests := []struct {
		name, username, password, display string
		field                             string // "" = accepted
	}{
		{"ok", "alice_01", ok, "Alice", ""},
		{"username 3", "abc", ok, "", ""},
		{"username 32", strings.Repeat("a", 32), ok, "", ""},
		{"password 8 runes multibyte", "bob", "éééééééé", "", ""},
		{"password 72 bytes", "carol", strings.Repeat("p", 72), "", ""},
		{"display 64 runes", "dave", ok, strings.Repeat("ü", 64), ""},
		{"display emoji", "erin", ok, "Erin 🐶‍🦺", ""},
		{"empty username", "", ok, "", "username:"},
		{"username 2", "ab", ok, "", "username:"},
		{"username 33", strings.Repeat("a", 33), ok, "", "username:"},
		{"username upper", "Alice", ok, "", "username:"},
		{"username dash", "al-ice", ok, "", "username:"},
		{"username space", "al ice", ok, "", "username:"},
		{"username unicode", "alicé", ok, "", "username:"},
		{"username guest prefix", "guest_abc", ok, "", "username:"},
		{"empty password", "frank", "", "", "password:"},
		{"password 7 runes", "frank", "ééééééé", "", "password:"},
		{"password 73 bytes", "frank", strings.Repeat("p", 73), "", "password:"},
		{"display 65 runes", "frank", ok, strings.Repeat("ü", 65), "display_name:"},
		{"display newline", "frank", ok, "Fr\nank", "display_name:"},
		{"display nul", "frank", ok, "Fr\x00ank", "display_name:"},
		{"display bidi override", "frank", ok, "Frank\u202e", "display_name:"},
		{"display bad utf8", "frank", ok, "Fr\xffank", "display_name:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _, err := s.Register(context.Background(), tt.username, tt.password, tt.display)
			if tt.field != "" {
				checkErr(t, err, chat.CodeBadRequest, tt.field)
				return
			}
			if err != nil {
				t.Fatalf("Register: got error %v, want nil", err)
			}
			if u.Username != tt.username {
				t.Fatalf("username: got %q, want %q", u.Username, tt.username)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()

	u, tok, err := s.Register(ctx, "alice", "correct horse", "  Alice A.  ")
	if err != nil {
		t.Fatalf("Register: got error %v, want nil", err)
	}
	want := chat.User{ID: u.ID, Username: "alice", DisplayName: "Alice A.", Role: chat.RoleUser}
	if u != want || u.ID == "" {
		t.Fatalf("user: got %+v, want %+v with an ID", u, want)
	}
	got, err := s.Authenticate(ctx, tok.Token)
	if err != nil || got != u {
		t.Fatalf("Authenticate: got %+v, %v, want %+v, nil", got, err, u)
	}

	u2, _, err := s.Register(ctx, "bob", "correct horse", "   ")
	if err != nil {
		t.Fatalf("Register: got error %v, want nil", err)
	}
	if u2.DisplayName != "bob" {
		t.Fatalf("default display name: got %q, want %q", u2.DisplayName, "bob")
	}

	_, _, err = s.Register(ctx, "alice", "other password", "")
	checkErr(t, err, chat.CodeConflict, "username is taken")
	if !strings.HasPrefix(err.Error(), "auth: register: ") {
		t.Fatalf("error text: got %q, want prefix %q", err, "auth: register: ")
	}
}

func TestLogin(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	alice, _ := mustRegister(t, s, "alice")
	guest, _, err := s.Guest(ctx, "")
	if err != nil {
		t.Fatalf("Guest: got error %v, want nil", err)
	}
	bot, _, err := s.CreateBot(ctx, alice, "alice_bot")
	if err != nil {
		t.Fatalf("CreateBot: got error %v, want nil", err)
	}

	u, tok, err := s.Login(ctx, "alice", "correct horse")
	if err != nil || u != alice {
		t.Fatalf("Login: got %+v, %v, want %+v, nil", u, err, alice)
	}
	if me, err := s.Authenticate(ctx, tok.Token); err != nil || me != alice {
		t.Fatalf("Authenticate(login token): got %+v, %v, want %+v, nil", me, err, alice)
	}

	bad := []struct{ name, username, password string }{
		{"wrong password", "alice", "wrong horse"},
		{"unknown user", "nobody", "correct horse"},
		{"empty", "", ""},
		{"too long password", "alice", "correct horse" + strings.Repeat("x", 80)},
		{"guest", guest.Username, ""},
		{"bot", bot.Username, ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Login(ctx, tt.username, tt.password)
			checkErr(t, err, chat.CodeUnauthorized, "")
			if got := chat.AsError(err).Message; got != "wrong username or password" {
				t.Fatalf("message: got %q, want %q", got, "wrong username or password")
			}
		})
	}
}

func TestGuest(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()
	re := regexp.MustCompile(`^guest_[a-z0-9_]+$`)
	seen := map[string]bool{}
	tests := []struct{ display, want string }{
		{"", "Guest"},
		{"  Rex  ", "Rex"},
		{"Rex", "Rex"},
	}
	for _, tt := range tests {
		u, tok, err := s.Guest(ctx, tt.display)
		if err != nil {
			t.Fatalf("Guest(%q): got error %v, want nil", tt.display, err)
		}
		if u.Role != chat.RoleGuest || u.DisplayName != tt.want {
			t.Fatalf("Guest(%q): got role %s name %q, want guest %q", tt.display, u.Role, u.DisplayName, tt.want)
		}
		if !re.MatchString(u.Username) || len(u.Username) > auth.MaxUsernameLen {
			t.Fatalf("guest username: got %q, want guest_ and [a-z0-9_], at most 32", u.Username)
		}
		if seen[u.Username] {
			t.Fatalf("guest username: got %q twice, want distinct", u.Username)
		}
		seen[u.Username] = true
		if me, err := s.Authenticate(ctx, tok.Token); err != nil || me != u {
			t.Fatalf("Authenticate(guest): got %+v, %v, want %+v, nil", me, err, u)
		}
	}
	_, _, err := s.Guest(ctx, "\x07bell")
	checkErr(t, err, chat.CodeBadRequest, "display_name:")
}

// craft returns a token with the given claims, signed by method with key.
func craft(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func TestAuthenticate(t *testing.T) {
	var clock struct {
		sync.Mutex
		now time.Time
	}
	clock.now = time.Now()
	s, st := newService(t, func(o *auth.Options) {
		o.Now = func() time.Time { clock.Lock(); defer clock.Unlock(); return clock.now }
	})
	setNow := func(t time.Time) { clock.Lock(); clock.now = t; clock.Unlock() }
	ctx := context.Background()
	alice, tok := mustRegister(t, s, "alice")
	bob, bobTok := mustRegister(t, s, "bob")
	if err := st.DeleteAccount(ctx, bob.ID); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}

	now := time.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"sub": alice.ID, "iss": auth.DefaultIssuer, "jti": "x",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	setNow(now.Add(-25 * time.Hour))
	expired, err := s.Issue(alice)
	setNow(now)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil)).SigningString()
	noneToken := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + strings.SplitN(payload, ".", 2)[1] + "."

	tests := []struct {
		name, token string
		msg         string // "" = accepted
	}{
		{"issued", tok.Token, ""},
		{"crafted valid", craft(t, jwt.SigningMethodHS256, testSecret, claims(nil)), ""},
		{"within leeway", craft(t, jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Second).Unix() })), ""},
		{"expired", expired.Token, "token expired"},
		{"other key", craft(t, jwt.SigningMethodHS256, []byte("another key that is 32 bytes lon"), claims(nil)), "invalid token"},
		{"alg none", noneToken, "invalid token"},
		{"alg none unsigned by lib", craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), "invalid token"},
		{"HS512 same key", craft(t, jwt.SigningMethodHS512, testSecret, claims(nil)), "invalid token"},
		{"missing exp", craft(t, jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { delete(c, "exp") })), "invalid token"},
		{"wrong issuer", craft(t, jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["iss"] = "evil" })), "invalid token"},
		{"missing issuer", craft(t, jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { delete(c, "iss") })), "invalid token"},
		{"issued in the future", craft(t, jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })), "invalid token"},
		{"missing sub", craft(t, jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { delete(c, "sub") })), "invalid token"},
		{"unknown sub", craft(t, jwt.SigningMethodHS256, testSecret, claims(func(c jwt.MapClaims) { c["sub"] = "usr_nope" })), "account no longer exists"},
		{"malformed", "not.a.token", "invalid token"},
		{"garbage", "garbage", "invalid token"},
		{"empty", "", "invalid token"},
		{"tampered", tok.Token[:len(tok.Token)-2] + "xx", "invalid token"},
		{"huge", strings.Repeat("a", 10000), "invalid token"},
		{"deleted account", bobTok.Token, "account no longer exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.Authenticate(ctx, tt.token)
			if tt.msg == "" {
				if err != nil || u != alice {
					t.Fatalf("Authenticate: got %+v, %v, want %+v, nil", u, err, alice)
				}
				return
			}
			checkErr(t, err, chat.CodeUnauthorized, "")
			if got := chat.AsError(err).Message; got != tt.msg {
				t.Fatalf("message: got %q, want %q", got, tt.msg)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	s, _ := newService(t, func(o *auth.Options) {
		o.Now = func() time.Time { return now }
		o.TokenTTL = time.Hour
		o.BotTokenTTL = 100 * time.Hour
		o.Issuer = "test-hub"
	})
	tests := []struct {
		role chat.Role
		ttl  time.Duration
	}{
		{chat.RoleUser, time.Hour}, {chat.RoleAdmin, time.Hour}, {chat.RoleGuest, time.Hour}, {chat.RoleBot, 100 * time.Hour},
	}
	for _, tt := range tests {
		tok, err := s.Issue(chat.User{ID: "usr_x", Role: tt.role})
		if err != nil {
			t.Fatalf("Issue(%s): %v", tt.role, err)
		}
		want := now.Truncate(time.Second).Add(tt.ttl)
		if !tok.ExpiresAt.Equal(want) {
			t.Fatalf("Issue(%s) ExpiresAt: got %v, want %v", tt.role, tok.ExpiresAt, want)
		}
		var c jwt.RegisteredClaims
		if _, _, err := jwt.NewParser().ParseUnverified(tok.Token, &c); err != nil {
			t.Fatalf("parse: %v", err)
		}
		if c.Subject != "usr_x" || c.Issuer != "test-hub" || c.ID == "" || c.IssuedAt == nil ||
			c.ExpiresAt == nil || !c.ExpiresAt.Equal(want) {
			t.Fatalf("claims: got %+v, want sub usr_x, iss test-hub, jti, iat, exp %v", c, want)
		}
	}
	if _, err := s.Issue(chat.User{}); err == nil {
		t.Fatalf("Issue(no ID): got nil error, want one")
	}
}

// flakyStore fails Account with an outage when down is set.
type flakyStore struct {
	auth.Accounts
	mu   sync.Mutex
	down bool
}

func (f *flakyStore) Account(ctx context.Context, id string) (chat.Account, error) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return chat.Account{}, fmt.Errorf("store: account: %w", chat.ErrUnavailable)
	}
	return f.Accounts.Account(ctx, id)
}

func TestAuthenticateStoreOutage(t *testing.T) {
	fs := &flakyStore{Accounts: newStore(t)}
	s, err := auth.NewCheap(fs, auth.Options{Secret: testSecret, BcryptCost: testCost})
	if err != nil {
		t.Fatal(err)
	}
	_, tok := mustRegister(t, s, "alice")
	fs.mu.Lock()
	fs.down = true
	fs.mu.Unlock()
	_, err = s.Authenticate(context.Background(), tok.Token)
	if !errors.Is(err, chat.ErrUnavailable) {
		t.Fatalf("Authenticate during outage: got %v, want an error wrapping chat.ErrUnavailable", err)
	}
	if got := chat.AsError(err).Code; got != chat.CodeUnavailable {
		t.Fatalf("code: got %s, want %s", got, chat.CodeUnavailable)
	}
}

func TestBots(t *testing.T) {
	var revokedMu sync.Mutex
	var revoked []string
	s, _ := newService(t, func(o *auth.Options) {
		o.OnRevoke = func(_ context.Context, id string) {
			revokedMu.Lock()
			revoked = append(revoked, id)
			revokedMu.Unlock()
		}
	})
	ctx := context.Background()
	alice, _ := mustRegister(t, s, "alice")
	mallory, _ := mustRegister(t, s, "mallory")
	admin, err := s.EnsureAdmin(ctx, "root", "admin password")
	if err != nil {
		t.Fatalf("EnsureAdmin: %v", err)
	}
	guest, _, err := s.Guest(ctx, "")
	if err != nil {
		t.Fatalf("Guest: %v", err)
	}

	bot, botTok, err := s.CreateBot(ctx, alice, "helper")
	if err != nil {
		t.Fatalf("CreateBot: got error %v, want nil", err)
	}
	want := chat.User{ID: bot.ID, Username: "helper", DisplayName: "helper", Role: chat.RoleBot}
	if bot != want || bot.ID == "" {
		t.Fatalf("bot: got %+v, want %+v with an ID", bot, want)
	}
	if d := time.Until(botTok.ExpiresAt); d < auth.DefaultBotTokenTTL-time.Hour {
		t.Fatalf("bot token lifetime: got %v, want about %v", d, auth.DefaultBotTokenTTL)
	}
	if me, err := s.Authenticate(ctx, botTok.Token); err != nil || me != bot {
		t.Fatalf("Authenticate(bot): got %+v, %v, want %+v, nil", me, err, bot)
	}

	t.Run("create refused", func(t *testing.T) {
		tests := []struct {
			name    string
			creator chat.User
			botName string
			code    chat.Code
		}{
			{"guest", guest, "g_bot", chat.CodeForbidden},
			{"bot", bot, "b_bot", chat.CodeForbidden},
			{"bad name", alice, "Bad Name", chat.CodeBadRequest},
			{"empty name", alice, "", chat.CodeBadRequest},
			{"name taken by bot", alice, "helper", chat.CodeConflict},
			{"name taken by user", alice, "mallory", chat.CodeConflict},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, _, err := s.CreateBot(ctx, tt.creator, tt.botName)
				checkErr(t, err, tt.code, "")
			})
		}
	})
	if _, _, err := s.CreateBot(ctx, admin, "admin_bot"); err != nil {
		t.Fatalf("CreateBot by admin: got error %v, want nil", err)
	}

	t.Run("revoke", func(t *testing.T) {
		byAdmin, byAdminTok, err := s.CreateBot(ctx, alice, "helper2")
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			actor chat.User
			id    string
			code  chat.Code // "" = revoked
		}{
			{"other user", mallory, bot.ID, chat.CodeForbidden},
			{"guest", guest, bot.ID, chat.CodeForbidden},
			{"the bot itself", bot, bot.ID, chat.CodeForbidden},
			{"no such bot", alice, "usr_nope", chat.CodeNotFound},
			{"not a bot", admin, mallory.ID, chat.CodeNotFound},
			{"creator", alice, bot.ID, ""},
			{"again", alice, bot.ID, chat.CodeNotFound},
			{"admin", admin, byAdmin.ID, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := s.RevokeBot(ctx, tt.actor, tt.id)
				if tt.code != "" {
					checkErr(t, err, tt.code, "")
					return
				}
				if err != nil {
					t.Fatalf("RevokeBot: got error %v, want nil", err)
				}
			})
		}
		for _, tk := range []string{botTok.Token, byAdminTok.Token} {
			_, err := s.Authenticate(ctx, tk)
			checkErr(t, err, chat.CodeUnauthorized, "account no longer exists")
		}
		revokedMu.Lock()
		defer revokedMu.Unlock()
		if got, want := strings.Join(revoked, ","), bot.ID+","+byAdmin.ID; got != want {
			t.Fatalf("OnRevoke calls: got %q, want %q", got, want)
		}
	})
}

func TestEnsureAdmin(t *testing.T) {
	s, _ := newService(t, nil)
	ctx := context.Background()

	root, err := s.EnsureAdmin(ctx, "root", "first password")
	if err != nil {
		t.Fatalf("EnsureAdmin(new): got error %v, want nil", err)
	}
	if root.Role != chat.RoleAdmin || root.Username != "root" || root.ID == "" {
		t.Fatalf("admin: got %+v, want a root admin with an ID", root)
	}
	if u, _, err := s.Login(ctx, "root", "first password"); err != nil || u != root {
		t.Fatalf("Login(admin): got %+v, %v, want %+v, nil", u, err, root)
	}

	again, err := s.EnsureAdmin(ctx, "root", "second password")
	if err != nil || again != root {
		t.Fatalf("EnsureAdmin(again): got %+v, %v, want %+v, nil", again, err, root)
	}
	if _, _, err := s.Login(ctx, "root", "first password"); err == nil {
		t.Fatalf("Login(old password): got nil error, want unauthorized")
	}

	carol, _, err := s.Register(ctx, "carol", "carol password", "Carol C")
	if err != nil {
		t.Fatal(err)
	}
	promoted, err := s.EnsureAdmin(ctx, "carol", "admin password")
	want := chat.User{ID: carol.ID, Username: "carol", DisplayName: "Carol C", Role: chat.RoleAdmin}
	if err != nil || promoted != want {
		t.Fatalf("EnsureAdmin(existing user): got %+v, %v, want %+v, nil", promoted, err, want)
	}
	if u, _, err := s.Login(ctx, "carol", "admin password"); err != nil || u != want {
		t.Fatalf("Login(promoted): got %+v, %v, want %+v, nil", u, err, want)
	}

	bad := []struct{ name, username, password, field string }{
		{"bad username", "Root!", "long enough", "username:"},
		{"short password", "root", "short", "password:"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.EnsureAdmin(ctx, tt.username, tt.password)
			checkErr(t, err, chat.CodeBadRequest, tt.field)
		})
	}
}
