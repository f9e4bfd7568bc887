package signaling

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/pawfect/hub/internal/chat"
)

// Command types (PROTOCOL §3).
const (
	cmdAuth    = "auth"
	cmdJoin    = "join"
	cmdLeave   = "leave"
	cmdSend    = "send"
	cmdTyping  = "typing"
	cmdHistory = "history"
	cmdEdit    = "edit"
	cmdDelete  = "delete"
	cmdPing    = "ping"

	// Calls (PROTOCOL §5).
	cmdCallStart    = "call_start"
	cmdCallJoin     = "call_join"
	cmdRTCAnswer    = "rtc_answer"
	cmdRTCCandidate = "rtc_candidate"
	cmdCallPublish  = "call_publish"
	cmdCallDecline  = "call_decline"
	cmdCallLeave    = "call_leave"
)

// command is one decoded client command. Pointer fields are optional ones
// whose absence differs from their zero value.
type command struct {
	ID          int64    `json:"id"`
	Type        string   `json:"type"`
	Token       string   `json:"token"`
	Room        string   `json:"room"`
	Since       *int64   `json:"since"`
	Text        *string  `json:"text"`
	ClientMsgID string   `json:"client_msg_id"`
	ReplyTo     *int64   `json:"reply_to"`
	Attachments []string `json:"attachments"`
	Active      *bool    `json:"active"`
	BeforeSeq   *int64   `json:"before_seq"`
	AfterSeq    *int64   `json:"after_seq"`
	Limit       *int     `json:"limit"`
	Seq         *int64   `json:"seq"`

	Kind      string          `json:"kind"`
	CallID    string          `json:"call_id"`
	SDP       string          `json:"sdp"`
	Candidate json.RawMessage `json:"candidate"`
	Source    string          `json:"source"`
}

// required lists, per command type, the fields it must carry.
var required = map[string][]string{
	cmdAuth:    {"token"},
	cmdJoin:    {"room"},
	cmdLeave:   {"room"},
	cmdSend:    {"room", "text"},
	cmdTyping:  {"room", "active"},
	cmdHistory: {"room"},
	cmdEdit:    {"room", "seq", "text"},
	cmdDelete:  {"room", "seq"},
	cmdPing:    {},

	cmdCallStart:    {"room", "kind"},
	cmdCallJoin:     {"room", "call_id"},
	cmdRTCAnswer:    {"call_id", "sdp"},
	cmdRTCCandidate: {"call_id", "candidate"},
	cmdCallPublish:  {"call_id", "source"},
	cmdCallDecline:  {"room", "call_id"},
	cmdCallLeave:    {"room", "call_id"},
}

func (c *command) has(field string) bool {
	switch field {
	case "token":
		return c.Token != ""
	case "room":
		return c.Room != ""
	case "text":
		return c.Text != nil
	case "active":
		return c.Active != nil
	case "seq":
		return c.Seq != nil
	case "kind":
		return c.Kind != ""
	case "call_id":
		return c.CallID != ""
	case "sdp":
		return c.SDP != ""
	case "candidate":
		// null is as good as absent; a browser's end-of-candidates is an
		// object with an empty "candidate" string, not null.
		return len(c.Candidate) > 0 && !bytes.Equal(c.Candidate, []byte("null"))
	case "source":
		return c.Source != ""
	}
	return false
}

// decodeCommand parses one frame. On failure it returns the best command
// ID it could read (0 if none) with a bad_request error naming the problem.
func decodeCommand(data []byte) (command, *chat.Error) {
	var c command
	if !utf8.Valid(data) {
		// encoding/json would quietly turn invalid bytes into U+FFFD.
		return command{ID: salvageID(data)}, chat.Errorf(chat.CodeBadRequest, "a text frame must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&c); err != nil {
		return command{ID: salvageID(data)}, chat.Errorf(chat.CodeBadRequest, "invalid command JSON: %v", err)
	}
	if dec.More() {
		return command{ID: c.ID}, chat.Errorf(chat.CodeBadRequest, "a frame must hold exactly one JSON object")
	}
	if c.Type == "" {
		return command{ID: c.ID}, chat.Errorf(chat.CodeBadRequest, "type: required")
	}
	fields, known := required[c.Type]
	if !known {
		return command{ID: c.ID}, chat.Errorf(chat.CodeBadRequest, "type: unknown command %q", c.Type)
	}
	if c.ID < 0 {
		return command{}, chat.Errorf(chat.CodeBadRequest, "id: must be a non-negative integer")
	}
	for _, f := range fields {
		if !c.has(f) {
			return command{ID: c.ID}, chat.Errorf(chat.CodeBadRequest, "%s: required for %s", f, c.Type)
		}
	}
	return c, nil
}

// salvageID reads just the id of a frame that did not decode as a whole,
// so the error reply can still be matched.
func salvageID(data []byte) int64 {
	var probe struct {
		ID int64 `json:"id"`
	}
	if json.Unmarshal(data, &probe) != nil || probe.ID < 0 {
		return 0
	}
	return probe.ID
}
