package main

import (
	"encoding/json"
	"testing"
)

func TestFastMessageAgreesWithDecoder(t *testing.T) {
	tests := []struct {
		name   string
		frame  string
		wantOK bool
	}{
		{"hub event", `{"type":"message","room":"r_1","message":{"id":"m_1","room":"r_1","seq":42,"from":{"id":"u","username":"g","display_name":"x \"seq\":9","role":"guest"},"text":"lg 123 p/1","created_at":"2026-12-01T00:00:00Z"}}`, true},
		{"escaped text", `{"type":"message","room":"r_1","message":{"seq":3,"text":"a \"b\""}}`, false},
		{"other event", `{"type":"typing","room":"r_1","user":{},"active":true}`, false},
		{"reply", `{"type":"reply","id":1,"ok":true,"data":{}}`, false},
		{"no seq", `{"type":"message","room":"r_1","message":{"text":"x"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			room, seq, text, ok := fastMessage([]byte(tt.frame))
			if ok != tt.wantOK {
				t.Fatalf("ok: got %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			var ev struct {
				Room    string `json:"room"`
				Message struct {
					Seq  int64  `json:"seq"`
					Text string `json:"text"`
				} `json:"message"`
			}
			if err := json.Unmarshal([]byte(tt.frame), &ev); err != nil {
				t.Fatal(err)
			}
			if room != ev.Room || seq != ev.Message.Seq || text != ev.Message.Text {
				t.Fatalf("got (%q, %d, %q), want (%q, %d, %q)", room, seq, text, ev.Room, ev.Message.Seq, ev.Message.Text)
			}
		})
	}
}
