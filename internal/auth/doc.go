// Package auth owns who a caller is: account registration and password
// login (bcrypt), guest accounts, bot accounts and their revocation, the
// hub's access tokens (HS256 JWTs) and the HMAC secret file they are signed
// with.
//
// Entry points:
//   - New builds a Service over an Accounts store (consumer-owned: the five
//     account methods of every store backend).
//   - Service.Register, Login, Guest create or check accounts and Issue a
//     Token; Service.Authenticate turns a bearer token back into the current
//     chat.User, consulting the store on every call so that a deleted
//     account or revoked bot is refused at once, not at token expiry.
//   - Service.CreateBot and RevokeBot manage long-lived bot tokens;
//     Options.OnRevoke lets the caller close a revoked bot's connections.
//   - Service.EnsureAdmin makes the bootstrap admin exist (HUB_BOOTSTRAP_ADMIN).
//   - LoadOrCreateSecret reads or generates HUB_DATA_DIR/jwt_secret.
//
// Tokens carry sub (user ID), iss, iat, exp and jti. Parsing pins the
// algorithm to HS256 (so "none" and other algorithms are refused), requires
// exp, checks iss and iat, and allows a small clock leeway between hubs.
//
// Errors meant for clients are *chat.Error values (bad_request, unauthorized,
// forbidden, not_found, conflict), wrapped with %w behind "auth: <op>: ";
// chat.AsError finds them. Store failures are passed through wrapped, never
// disguised as unauthorized, so a store outage answers unavailable.
//
// Concurrency: a Service is immutable after New and safe for concurrent use
// by any number of goroutines; it starts no goroutines and holds no locks.
// OnRevoke is called synchronously on the goroutine that called RevokeBot,
// after the bot's account is deleted. The package has no global state
// besides constants.
package auth
