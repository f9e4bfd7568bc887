package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// Audit actions (PROTOCOL §7). AuditGuest is an addition to the contract's
// list.
const (
	AuditLogin            = "auth.login"
	AuditLoginFailed      = "auth.login_failed"
	AuditRegister         = "auth.register"
	AuditGuest            = "auth.guest"
	AuditBotCreate        = "bot.create"
	AuditBotRevoke        = "bot.revoke"
	AuditRoomCreate       = "room.create"
	AuditRoomMemberAdd    = "room.member_add"
	AuditRoomMemberRemove = "room.member_remove"
	AuditWebhookCreate    = "webhook.create"
	AuditWebhookDelete    = "webhook.delete"
	AuditAdminDisconnect  = "admin.disconnect"
)

// AuditEntry is one line of the audit log. ID is assigned by the store and
// orders entries: a later entry has a greater ID in the store's order.
// Actor is nil when nobody was signed in (a failed login). Detail is a JSON
// object; it is encoded as {} when empty, never left out or null.
type AuditEntry struct {
	ID     string          `json:"id"`
	At     time.Time       `json:"at"`
	Actor  *User           `json:"actor"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	IP     string          `json:"ip"`
	Detail json.RawMessage `json:"detail"`
}

// emptyDetail is the detail of an entry that has none.
var emptyDetail = json.RawMessage(`{}`)

// MarshalJSON keeps "detail" an object even for an entry built without one.
func (e AuditEntry) MarshalJSON() ([]byte, error) {
	type plain AuditEntry // no methods: no recursion
	p := plain(e)
	if len(p.Detail) == 0 {
		p.Detail = emptyDetail
	}
	return json.Marshal(p)
}

// ErrAuditDetail is returned for a detail that is not a JSON object.
var ErrAuditDetail = errors.New("audit detail must be a JSON object")

// AuditDetail returns the detail a store keeps for d: {} when d is empty,
// d itself (bytes unchanged) when it is a JSON object, and ErrAuditDetail
// otherwise, so every backend accepts and refuses the same details.
func AuditDetail(d json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(d)
	if len(t) == 0 {
		return emptyDetail, nil
	}
	if t[0] != '{' || !json.Valid(t) {
		return nil, ErrAuditDetail
	}
	return d, nil
}
