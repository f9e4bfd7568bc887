package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

var frameSamples = []string{
	`{"type":"message","room":"r1","message":{"id":"m1","room":"r1","seq":7,"from":{"id":"u1","username":"","display_name":"lg-x-1","role":"guest"},"text":"lg 1712345678901234567 p0/3","client_msg_id":"a-p0-3","created_at":"2026-01-01T00:00:00Z"}}`,
	`{"room":"r1","message":{"text":"lg 1 p0/0","seq":1,"meta":{"a":[1,{"seq":99}],"b":"x\"}"},"room":"r1"},"type":"message"}`,
	`{"type":"message","room":"r1","message":{"seq":2,"text":"with \"escape\" \u00e9"}}`,
	`{"type":"message","room":"r1","message":null}`,
	`{"type":"message_edited","room":"r1","message":{"seq":2,"text":"x"}}`,
	`{"type":"reply","id":3,"ok":true,"data":{"message":{"seq":4}}}`,
	`{"type":"reply","id":4,"ok":false,"error":{"code":"rate_limited","message":"slow","retry_after_ms":500}}`,
	`{"type":"presence","room":"r1","user":{"id":"u"},"state":"online"}`,
	`{"Type":"message","room":"r1","message":{"seq":2,"text":"x"}}`,
	`{"type":"message","room":"r1","message":{"Seq":2,"seq":3,"text":"x"}}`,
	`{"type":"message","room":"r1","message":{"seq":1.5,"text":"x"}}`,
	` { "type" : "message" , "room" : "r1" , "message" : { "seq" : 12 , "text" : "t" } } `,
	`{}`, `[]`, `null`, ``, `{"type":"message"`,
}

func TestDecodeFrameMatchesEncodingJSON(t *testing.T) {
	for _, s := range frameSamples {
		checkFrame(t, []byte(s))
	}
	var f frame
	if !scanEvent([]byte(frameSamples[0]), &f) || f.Message.Seq != 7 || f.Message.Text != "lg 1712345678901234567 p0/3" || f.Room != "r1" {
		t.Errorf("fast path not taken for a plain event, or wrong: %+v", f)
	}
	if !scanEvent([]byte(frameSamples[1]), &f) || f.Message.Seq != 1 {
		t.Errorf("fast path must skip nested seq in meta: %+v", f.Message)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range frameSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(checkFrame)
}

// checkFrame: wherever encoding/json accepts a frame, decodeFrame must
// agree with it exactly.
func checkFrame(t *testing.T, data []byte) {
	var want frame
	if json.Unmarshal(data, &want) != nil {
		var got frame
		_ = decodeFrame(data, &got) // must not panic
		return
	}
	var got frame
	if err := decodeFrame(data, &got); err != nil {
		t.Fatalf("decodeFrame(%q): %v, encoding/json accepts it", data, err)
	}
	switch {
	case got.Type != want.Type || got.Room != want.Room:
		t.Fatalf("decodeFrame(%q) = %+v, encoding/json %+v", data, got, want)
	case want.Type == "message":
		// For events the fast path fills only what loadgen reads.
		if !reflect.DeepEqual(got.Message, want.Message) {
			t.Fatalf("decodeFrame(%q).Message = %+v, encoding/json %+v", data, got.Message, want.Message)
		}
		return
	case want.Type != "reply":
		return // other events: loadgen reads only type and room
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeFrame(%q) = %+v, encoding/json %+v", data, got, want)
	}
}

func BenchmarkDecodeFrame(b *testing.B) {
	data := []byte(frameSamples[0])
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			var f frame
			_ = decodeFrame(data, &f)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var f frame
			_ = json.Unmarshal(data, &f)
		}
	})
}
