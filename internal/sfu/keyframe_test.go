package sfu

import "testing"

func TestIsKeyframe(t *testing.T) {
	tests := []struct {
		name    string
		codec   Codec
		payload []byte
		want    bool
	}{
		// VP8: descriptor byte (X R N S R PID), then the frame tag.
		{"vp8 keyframe, no extensions", CodecVP8, []byte{0x10, 0x00}, true},
		{"vp8 interframe", CodecVP8, []byte{0x10, 0x01}, false},
		{"vp8 keyframe, not the frame's first packet", CodecVP8, []byte{0x00, 0x00}, false},
		{"vp8 keyframe, a later partition", CodecVP8, []byte{0x11, 0x00}, false},
		{"vp8 keyframe, 15-bit picture ID", CodecVP8, []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"vp8 keyframe, 7-bit picture ID, TL0PICIDX and TID", CodecVP8, []byte{0x90, 0xe0, 0x05, 0x07, 0x20, 0x00}, true},
		{"vp8 interframe, with extensions", CodecVP8, []byte{0x90, 0xe0, 0x05, 0x07, 0x20, 0x01}, false},
		{"vp8 truncated", CodecVP8, []byte{0x90, 0x80}, false},
		{"vp8 empty", CodecVP8, nil, false},
		// H.264: NAL header byte F|NRI|type.
		{"h264 IDR", CodecH264, []byte{0x65, 0x88}, true},
		{"h264 SPS", CodecH264, []byte{0x67, 0x42}, true},
		{"h264 non-IDR slice", CodecH264, []byte{0x41, 0x9a}, false},
		{"h264 STAP-A with SPS and PPS", CodecH264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 STAP-A without", CodecH264, []byte{0x78, 0x00, 0x02, 0x41, 0x9a}, false},
		{"h264 STAP-A truncated", CodecH264, []byte{0x78, 0x00, 0x09, 0x67}, false},
		{"h264 FU-A start of an IDR", CodecH264, []byte{0x7c, 0x85, 0x88}, true},
		{"h264 FU-A middle of an IDR", CodecH264, []byte{0x7c, 0x05, 0x88}, false},
		{"h264 FU-A start of a non-IDR", CodecH264, []byte{0x7c, 0x81, 0x9a}, false},
		{"unknown codec", Codec(99), []byte{0x65}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsKeyframe(tt.codec, tt.payload); got != tt.want {
				t.Fatalf("IsKeyframe(% x): got %v, want %v", tt.payload, got, tt.want)
			}
		})
	}
}

func FuzzIsKeyframe(f *testing.F) {
	f.Add(byte(1), []byte{0x90, 0xe0, 0x05, 0x07, 0x20, 0x00})
	f.Add(byte(2), []byte{0x78, 0x00, 0x02, 0x67, 0x42})
	f.Fuzz(func(t *testing.T, codec byte, payload []byte) {
		IsKeyframe(Codec(codec%3), payload) // must not panic on any input
	})
}
