package signaling

import (
	"strings"
	"testing"

	"github.com/pawfect/hub/internal/chat"
)

func TestDecodeCommand(t *testing.T) {
	tests := []struct {
		name    string
		frame   string
		wantID  int64
		wantErr string // substring of the error message; "" = ok
	}{
		{"ping", `{"id":1,"type":"ping"}`, 1, ""},
		{"send", `{"id":2,"type":"send","room":"r","text":"hi"}`, 2, ""},
		{"send empty text is decoded (validated later)", `{"id":2,"type":"send","room":"r","text":""}`, 2, ""},
		{"join since", `{"id":3,"type":"join","room":"r","since":4}`, 3, ""},
		{"typing false", `{"id":4,"type":"typing","room":"r","active":false}`, 4, ""},
		{"unknown fields are ignored", `{"id":5,"type":"ping","future":true}`, 5, ""},
		{"not JSON", `hello`, 0, "invalid command JSON"},
		{"truncated", `{"id":6,"type":"ping"`, 0, "invalid command JSON"},
		{"wrong field type keeps id", `{"id":7,"type":"join","room":5}`, 7, "invalid command JSON"},
		{"string id", `{"id":"7","type":"ping"}`, 0, "invalid command JSON"},
		{"negative id", `{"id":-1,"type":"ping"}`, 0, "id: must be"},
		{"two objects", `{"id":8,"type":"ping"}{"id":9,"type":"ping"}`, 8, "exactly one JSON object"},
		{"array", `[1,2]`, 0, "invalid command JSON"},
		{"missing type", `{"id":10}`, 10, "type: required"},
		{"unknown type", `{"id":11,"type":"fly"}`, 11, "unknown command"},
		{"auth without token", `{"id":12,"type":"auth"}`, 12, "token: required"},
		{"join without room", `{"id":13,"type":"join"}`, 13, "room: required"},
		{"send without text", `{"id":14,"type":"send","room":"r"}`, 14, "text: required"},
		{"typing without active", `{"id":15,"type":"typing","room":"r"}`, 15, "active: required"},
		{"edit without seq", `{"id":16,"type":"edit","room":"r","text":"x"}`, 16, "seq: required"},
		{"delete without room", `{"id":17,"type":"delete","seq":1}`, 17, "room: required"},
		{"call_start", `{"id":18,"type":"call_start","room":"r","kind":"video"}`, 18, ""},
		{"call_start without kind", `{"id":19,"type":"call_start","room":"r"}`, 19, "kind: required"},
		{"call_join without call_id", `{"id":20,"type":"call_join","room":"r"}`, 20, "call_id: required"},
		{"call_join without room", `{"id":21,"type":"call_join","call_id":"c"}`, 21, "room: required"},
		{"rtc_answer", `{"id":22,"type":"rtc_answer","call_id":"c","sdp":"v=0"}`, 22, ""},
		{"rtc_answer without sdp", `{"id":23,"type":"rtc_answer","call_id":"c"}`, 23, "sdp: required"},
		{"rtc_answer sdp not a string", `{"id":24,"type":"rtc_answer","call_id":"c","sdp":{}}`, 24, "invalid command JSON"},
		{"rtc_candidate", `{"id":25,"type":"rtc_candidate","call_id":"c","candidate":{"candidate":"","sdpMid":"0"}}`, 25, ""},
		{"rtc_candidate null", `{"id":26,"type":"rtc_candidate","call_id":"c","candidate":null}`, 26, "candidate: required"},
		{"rtc_candidate without call", `{"id":27,"type":"rtc_candidate","candidate":{}}`, 27, "call_id: required"},
		{"call_publish without source", `{"id":28,"type":"call_publish","call_id":"c"}`, 28, "source: required"},
		{"call_decline without call_id", `{"id":29,"type":"call_decline","room":"r"}`, 29, "call_id: required"},
		{"call_leave", `{"id":30,"type":"call_leave","room":"r","call_id":"c"}`, 30, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := decodeCommand([]byte(tt.frame))
			if c.ID != tt.wantID {
				t.Errorf("id: got %d, want %d", c.ID, tt.wantID)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("got no error, want one containing %q", tt.wantErr)
			case tt.wantErr != "":
				if err.Code != chat.CodeBadRequest {
					t.Errorf("code: got %s, want %s", err.Code, chat.CodeBadRequest)
				}
				if !strings.Contains(err.Message, tt.wantErr) {
					t.Errorf("message: got %q, want it to contain %q", err.Message, tt.wantErr)
				}
			}
		})
	}
}

// FuzzDecodeCommand checks that no frame crashes the decoder and that
// every accepted command carries a known type and its required fields.
func FuzzDecodeCommand(f *testing.F) {
	for _, seed := range []string{
		`{"id":1,"type":"auth","token":"x"}`,
		`{"id":2,"type":"join","room":"r","since":0}`,
		`{"id":3,"type":"send","room":"r","text":"hi","client_msg_id":"c","reply_to":1,"attachments":["u"]}`,
		`{"id":4,"type":"history","room":"r","before_seq":10,"after_seq":2,"limit":5}`,
		`{"id":5,"type":"edit","room":"r","seq":1,"text":"x"}`,
		`{"id":6,"type":"typing","room":"r","active":true}`,
		`{"id":7,"type":"delete","room":"r","seq":1}`,
		`{"id":8,"type":"leave","room":"r"}`,
		`{"id":9,"type":"ping"}`,
		`{"id":1e400}`, `null`, `{}`, `{"type":null}`, "\xff\xfe", `{"id":1,"type":"send","room":"r","text":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCommand(data)
		if err != nil {
			if err.Code != chat.CodeBadRequest {
				t.Fatalf("error code %s, want bad_request", err.Code)
			}
			if c.ID < 0 {
				t.Fatalf("negative id %d in error reply", c.ID)
			}
			return
		}
		fields, ok := required[c.Type]
		if !ok {
			t.Fatalf("accepted unknown type %q", c.Type)
		}
		for _, name := range fields {
			if !c.has(name) {
				t.Fatalf("accepted %s without %s", c.Type, name)
			}
		}
	})
}
