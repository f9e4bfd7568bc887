// Package storetest is the contract test suite every store backend passes.
// Run calls each test against a fresh, empty store made by the caller.
package storetest

import (
	"context"
	"time"

	"github.com/pawfect/hub/internal/chat"
)

// Store is the whole method set of a hub store backend.
type Store interface {
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	Close() error
	WebhookStore // webhooks.go
	CallStore    // calls.go

	// CreateAccount inserts a new account; chat.ErrConflict if the username
	// is taken (by any account, deleted ones included) or the ID is.
	// Usernames are compared exactly; callers normalise case first. A zero
	// CreatedAt is stored as the current time.
	CreateAccount(ctx context.Context, a chat.Account) error
	// Account returns a live account by ID; chat.ErrNotFound if it does not
	// exist or was deleted.
	Account(ctx context.Context, id string) (chat.Account, error)
	// AccountByUsername returns a live account by username; chat.ErrNotFound
	// otherwise.
	AccountByUsername(ctx context.Context, username string) (chat.Account, error)
	// UpsertAdmin makes sure a live account with a.User.Username exists with
	// role admin and a.PasswordHash; an existing one keeps its ID and display
	// name. It returns the stored account. a.User.ID must be set; it is used
	// only if the account is created. A deleted account with the username is
	// revived (same ID), since the username can never go to another account.
	// It is a single atomic statement, so hubs starting together are safe.
	UpsertAdmin(ctx context.Context, a chat.Account) (chat.Account, error)
	// DeleteAccount marks an account deleted (its messages stay);
	// chat.ErrNotFound if it is not live.
	DeleteAccount(ctx context.Context, id string) error

	// CreateRoom inserts r (LastSeq 0) with owner as its owner and members
	// as members. For a direct room, directKey (the two sorted user IDs) is
	// unique: chat.ErrConflict if the pair already has one. directKey is
	// empty for other kinds. chat.ErrConflict too if r.ID exists;
	// chat.ErrNotFound if owner or a member is not a live account, in which
	// case nothing is stored. Members repeating the owner or each other are
	// added once.
	CreateRoom(ctx context.Context, r chat.Room, owner string, members []string, directKey string) error
	// DirectRoom returns the direct room with directKey; chat.ErrNotFound if none.
	DirectRoom(ctx context.Context, directKey string) (chat.Room, error)
	// Room returns a room with its current LastSeq; chat.ErrNotFound if none.
	Room(ctx context.Context, id string) (chat.Room, error)
	// RoomsFor lists every public room and every room userID is a member
	// of, oldest first.
	RoomsFor(ctx context.Context, userID string) ([]chat.Room, error)
	// Members lists a room's members (deleted accounts left out), owner first,
	// then by the time they were added. An unknown room has no members.
	Members(ctx context.Context, roomID string) ([]chat.Member, error)
	// MemberRole returns userID's role in the room; chat.ErrNotFound if not
	// a member (a deleted account is not one, as in Members).
	MemberRole(ctx context.Context, roomID, userID string) (chat.MemberRole, error)
	// AddMember adds a member; chat.ErrConflict if already one,
	// chat.ErrNotFound if the room or live user does not exist.
	AddMember(ctx context.Context, roomID, userID string, role chat.MemberRole) error
	// RemoveMember removes a member; chat.ErrNotFound if not a member.
	RemoveMember(ctx context.Context, roomID, userID string) error
	// LastSeqs returns last_seq for each of the given rooms that exists.
	LastSeqs(ctx context.Context, roomIDs []string) (map[string]int64, error)

	// AppendMessage stores m (ID, Room, From.ID, Text, ClientMsgID, ReplyTo,
	// CreatedAt, Meta set by the caller) with seq = last_seq + 1 and returns
	// it as stored (From filled from the account) with created=true. If
	// m.ClientMsgID is set and (room, sender, client_msg_id) exists, it
	// returns that original message and created=false, storing nothing
	// (even if the original was since deleted). chat.ErrNotFound if the
	// room does not exist. A failed append consumes no seq.
	AppendMessage(ctx context.Context, m chat.Message) (chat.Message, bool, error)
	// Messages returns one page in ascending seq, by PROTOCOL §2's rules:
	// no bound → the latest Limit, hasMore = older exist; BeforeSeq → the
	// latest Limit below it, hasMore = older exist; AfterSeq → the first
	// Limit above it, hasMore = newer exist; both → the first Limit strictly
	// between, hasMore = more lie between. Limit is > 0 (an error
	// otherwise). An unknown room has no messages.
	Messages(ctx context.Context, roomID string, q chat.HistoryQuery) ([]chat.Message, bool, error)
	// MessageByClientID returns the message fromID stored in the room with
	// clientMsgID, deleted ones included; chat.ErrNotFound if none.
	MessageByClientID(ctx context.Context, roomID, fromID, clientMsgID string) (chat.Message, error)
	// MessageBySeq returns one message, deleted ones included;
	// chat.ErrNotFound if none.
	MessageBySeq(ctx context.Context, roomID string, seq int64) (chat.Message, error)
	// EditMessage replaces the text and sets EditedAt; chat.ErrNotFound if
	// there is no such message or it was deleted.
	EditMessage(ctx context.Context, roomID string, seq int64, text string, at time.Time) (chat.Message, error)
	// DeleteMessage marks a message deleted, clears its text and meta and
	// sets EditedAt; chat.ErrNotFound if none or already deleted.
	DeleteMessage(ctx context.Context, roomID string, seq int64, at time.Time) (chat.Message, error)

	// AppendAudit stores an audit entry (At, Actor.ID, Action, Target, IP,
	// Detail set by the caller; a zero At is stored as now, a nil Actor or
	// one with an empty ID as no actor) and returns it as stored, with the
	// ID the store assigned and Actor filled from the account. Detail must
	// be empty (stored as {}) or a JSON object, kept byte for byte;
	// anything else is chat.ErrAuditDetail and nothing is stored. The actor
	// needs no live account: the entry is kept whatever the account.
	// An entry appended after another's AppendAudit returned has a greater
	// ID in AuditEntries' order, across every connection and hub.
	AppendAudit(ctx context.Context, e chat.AuditEntry) (chat.AuditEntry, error)
	// AuditEntries returns up to limit entries, newest first, strictly older
	// than the entry with ID before (no bound when before is empty). A
	// well-formed ID that names no entry is still a bound; a string that
	// cannot be an ID is a *chat.Error with code bad_request naming
	// "before". Actor is the account as it is now, deleted accounts
	// included; an actor with no account row comes back with its ID only.
	// limit must be > 0 (an error otherwise).
	AuditEntries(ctx context.Context, before string, limit int) ([]chat.AuditEntry, error)

	ActivityStore
}

// ActivityStore answers the operators' questions about recent traffic.
type ActivityStore interface {
	// ActiveRooms lists the rooms whose newest message was stored at or
	// after activeSince, by room ID, each with the number of its messages
	// stored at or after countSince.
	ActiveRooms(ctx context.Context, activeSince, countSince time.Time) ([]chat.RoomActivity, error)
	// RoomActivity returns one room with the number of its messages stored
	// at or after countSince; chat.ErrNotFound if there is no such room.
	RoomActivity(ctx context.Context, roomID string, countSince time.Time) (chat.RoomActivity, error)
}
