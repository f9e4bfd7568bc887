package signaling

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestAppendTextFrame(t *testing.T) {
	tests := []struct {
		size       int
		wantHeader []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, binary.BigEndian.AppendUint64([]byte{0x81, 127}, 65536)},
	}
	for _, tt := range tests {
		payload := bytes.Repeat([]byte{'x'}, tt.size)
		got := appendTextFrame([]byte("prefix"), payload)
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("size %d: the existing buffer was not kept", tt.size)
		}
		got = got[len("prefix"):]
		if !bytes.Equal(got[:len(tt.wantHeader)], tt.wantHeader) {
			t.Errorf("size %d: got header % x, want % x", tt.size, got[:len(tt.wantHeader)], tt.wantHeader)
		}
		if !bytes.Equal(got[len(tt.wantHeader):], payload) {
			t.Errorf("size %d: payload changed", tt.size)
		}
	}
}
