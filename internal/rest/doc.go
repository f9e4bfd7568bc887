// Package rest serves the hub's JSON HTTP API under /api/ (PROTOCOL §2):
// accounts and tokens, bots, rooms, membership, history and posting, the
// admin's room inspection and disconnects (PROTOCOL §2 Ops, through an
// Inspector that answers for every hub) and webhooks (PROTOCOL §7). Every
// admin endpoint goes through adminOnly: 401 without a valid token, 403
// for any role but admin.
//
// Handlers are thin: they decode and validate the request shape, call the
// auth or rooms service, and write the reply. Every error leaves through
// writeError, which maps it with chat.AsError to the protocol's code and
// HTTP status, so the body is always {"error": {"code", "message"}}.
// Internal errors are logged with their cause and never shown to clients.
//
// Audit: handlers call record once an audited action has succeeded (a
// failed login is recorded when it is refused), synchronously and on the
// AuditLog the API was given; a failed append is logged, never returned.
// GET /api/admin/audit pages the log for admins (PROTOCOL §7).
package rest
