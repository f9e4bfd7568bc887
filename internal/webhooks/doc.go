// Package webhooks delivers the hub's events to registered HTTP receivers
// (PROTOCOL §7): the registry of webhooks and the dispatcher that works
// through the durable outbox the store fills.
//
// The outbox is the store's: every change that causes an event (a new
// message, an edit, a delete, a member added or removed) writes one
// delivery row per matching webhook in its own transaction, with the body
// already built. So an event is queued exactly when its change commits,
// survives any restart, and carries the same id and bytes on every
// attempt, whichever hub makes it.
//
// Entry points:
//   - Registry (NewRegistry): create, list, read and delete webhooks and
//     read a webhook's delivery log, for admins.
//   - Dispatcher (NewDispatcher, Start, Close): every hub runs one. It polls
//     the store for due deliveries, claims a batch under a lease so exactly
//     one hub holds each delivery at a time, POSTs them signed with
//     HMAC-SHA256 (Sign), and records each attempt: 2xx is delivered,
//     anything else is retried with exponential backoff and jitter
//     (Backoff) until the delivery is older than the give-up age, then it
//     is marked failed. A hub that dies holding a lease holds it only until
//     the lease ends; then another hub (or the restarted one) retries.
//   - Sign and Verify: the signature scheme, for receivers too.
//
// Delivery is at least once: a hub that dies after its POST was answered
// but before it recorded the answer leaves the delivery to be retried, so
// receivers deduplicate on X-Hub-Delivery (the event id).
//
// Concurrency: Registry is stateless and safe for concurrent use. A
// Dispatcher owns one poll goroutine (from Start until Close) and at most
// Config.Workers delivery goroutines, each started by the poll loop for one
// claimed delivery and ending when its attempt is recorded. Close stops the
// polling, waits for in-flight deliveries until its context ends, then
// cancels them; a cancelled attempt is recorded as interrupted and due at
// once, so it is retried rather than lost. After Close returns no
// goroutine of the Dispatcher is left.
package webhooks
