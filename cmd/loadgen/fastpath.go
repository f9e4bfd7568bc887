package main

import (
	"bytes"
	"strconv"
)

// fastMessage reads the room, seq and text of a hub message event without
// a JSON parser, for the receive hot path: at 100,000 events a second the
// general decoder was a third of loadgen's CPU, on the same machine as the
// hub it measures. It relies only on JSON's rules (a quote inside a string
// is escaped, so `"seq":` cannot occur inside one) and on the event's shape
// in docs/protocol.md; anything it is not sure of reports ok=false and the
// caller falls back to the full decoder.
func fastMessage(data []byte) (room string, seq int64, text string, ok bool) {
	if !bytes.HasPrefix(data, []byte(`{"type":"message","room":"`)) {
		return "", 0, "", false
	}
	rest := data[len(`{"type":"message","room":"`):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return "", 0, "", false
	}
	room = string(rest[:end])
	rest = rest[end:]
	i := bytes.Index(rest, []byte(`"seq":`))
	if i < 0 {
		return "", 0, "", false
	}
	rest = rest[i+len(`"seq":`):]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	seq, err := strconv.ParseInt(string(rest[:n]), 10, 64)
	if err != nil {
		return "", 0, "", false
	}
	rest = rest[n:]
	i = bytes.Index(rest, []byte(`"text":"`))
	if i < 0 {
		return "", 0, "", false
	}
	rest = rest[i+len(`"text":"`):]
	end = bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", 0, "", false // escapes: leave it to the decoder
	}
	return room, seq, string(rest[:end]), true
}
