// Package calls is the call state machine: starting, ringing, joining,
// leaving and ending the audio/video calls of PROTOCOL §5, with the SFU
// node that carries each call's media.
//
// It owns the rules, not the media or the sockets:
//   - A direct room's call rings the other member (call_ring to all their
//     connections) and becomes active when they join; decline, the ring
//     timeout or either side leaving ends it.
//   - A call in any other room the user may join is active from the start
//     and ends when its last participant leaves (or, if nobody joins, at
//     the ring timeout).
//   - A room has at most one live call (a unique index in the store, so it
//     holds across hubs), a call at most MaxParticipants, a connection is
//     in at most one call, and a user is in a call once: joining from
//     another connection replaces the earlier one.
//   - Every change is published as call_state to the room.
//
// Entry points: New, then the gateway's commands Start, Join, Answer,
// Candidate, Publish, Decline, Leave and Disconnected; LiveCall for the
// join reply and Inspect for operators; HubLost and SFULost from the
// cluster's and the SFU client's node-loss callbacks, Reap for losses
// nobody saw (a restart under a new node ID); Run (the ring-timeout
// sweeper) and Close. The peer ID on the SFU is the connection ID, and
// rtc_offer / rtc_candidate frames for a connection arrive on
// Bus.ConnRTC(conn ID), subscribed before the SFU is asked to join so the
// first offer cannot be missed.
//
// Concurrency: the call rows in the Store are the truth and are shared by
// every hub. Each change reads the row, edits a copy and stores it only if
// the row's version is unchanged (else it re-reads and redoes it), and only
// the change that won is carried out on the SFU and published, so hubs
// racing on one call never double-publish. The service keeps in memory only
// its own connections' participation (mu guards that map; no I/O under
// it); a connection dropped from a call by another hub is forgotten at the
// next sweep. Methods are safe for concurrent use, but the calls for one
// connection must not overlap (the gateway's read loop serializes them)
// and Disconnected comes after the last of them. Errors returned are
// *chat.Error values with PROTOCOL §8 codes.
package calls
