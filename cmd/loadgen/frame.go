package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// decodeFrame fills f from one server frame. Events, which are nearly all
// the traffic, go through scanEvent, a single pass that picks out type,
// room and, for message events, message.room, message.seq and message.text,
// skipping the rest; anything it does not handle (replies, escaped strings,
// odd input) goes to encoding/json. For the fields loadgen reads, the
// result is the same either way (FuzzDecodeFrame).
func decodeFrame(data []byte, f *frame) error {
	if scanEvent(data, f) {
		return nil
	}
	*f = frame{}
	return json.Unmarshal(data, f)
}

var errScan = errors.New("scan: not handled")

// scanEvent is decodeFrame's fast path; false means "use encoding/json".
func scanEvent(data []byte, f *frame) bool {
	s := scanner{b: data}
	var typ, room []byte
	var msg []byte
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "type":
			v, err := s.plainString()
			typ = v
			return err
		case "room":
			v, err := s.plainString()
			room = v
			return err
		case "message":
			start := s.i
			if err := s.skip(); err != nil {
				return err
			}
			msg = data[start:s.i]
			return nil
		}
		return s.skipOther(key, "type", "room", "message")
	})
	switch {
	case err != nil || s.rest() || typ == nil || string(typ) == "reply":
		return false
	case string(typ) != "message":
		*f = frame{Type: string(typ), Room: string(room)}
		return true
	case msg == nil:
		return false
	}
	ms := scanner{b: msg}
	m := &frameMessage{}
	var haveSeq bool
	err = ms.object(func(key []byte) error {
		switch string(key) {
		case "seq":
			n, err := ms.integer()
			m.Seq, haveSeq = n, err == nil
			return err
		case "text":
			v, err := ms.plainString()
			m.Text = string(v)
			return err
		case "room":
			v, err := ms.plainString()
			m.Room = string(v)
			return err
		}
		return ms.skipOther(key, "seq", "text", "room")
	})
	if err != nil || ms.rest() || !haveSeq {
		return false
	}
	*f = frame{Type: "message", Room: string(room), Message: m}
	return true
}

// scanner walks JSON that is assumed well formed (the hub's own output);
// on anything unexpected it returns errScan and the caller falls back.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// rest reports whether anything but white space follows.
func (s *scanner) rest() bool {
	s.ws()
	return s.i != len(s.b)
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object calls field for each key, with the scanner at the value, which
// field must consume.
func (s *scanner) object(field func(key []byte) error) error {
	if s.peek() != '{' {
		return errScan
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		key, err := s.plainString()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return errScan
		}
		s.i++
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errScan
		}
	}
}

// plainString reads a string without escapes (or fails, so that
// encoding/json deals with it) and returns its bytes.
func (s *scanner) plainString() ([]byte, error) {
	if s.peek() != '"' {
		return nil, errScan
	}
	start := s.i + 1
	j := bytes.IndexByte(s.b[start:], '"')
	if j < 0 {
		return nil, errScan
	}
	v := s.b[start : start+j]
	for _, c := range v {
		if c == '\\' || c < 0x20 {
			return nil, errScan
		}
	}
	if !utf8.Valid(v) {
		return nil, errScan
	}
	s.i = start + j + 1
	return v, nil
}

// integer reads a JSON integer that fits int64.
func (s *scanner) integer() (int64, error) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, errScan
		}
	}
	n, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	if err != nil {
		return 0, errScan
	}
	return n, nil
}

// skipOther skips the value of a key that is none of wanted; a key that
// matches one only case-insensitively (which encoding/json would accept)
// is left to encoding/json.
func (s *scanner) skipOther(key []byte, wanted ...string) error {
	for _, w := range wanted {
		if len(key) == len(w) && bytes.EqualFold(key, []byte(w)) {
			return errScan
		}
	}
	return s.skip()
}

// skip passes over one value of any kind.
func (s *scanner) skip() error {
	switch c := s.peek(); {
	case c == '"':
		s.i++
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '\\':
				s.i += 2
				continue
			case '"':
				s.i++
				return nil
			}
			s.i++
		}
		return errScan
	case c == '{' || c == '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return nil
				}
			case '"':
				if err := s.skip(); err != nil {
					return err
				}
				continue
			}
			s.i++
		}
		return errScan
	case c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n':
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
			s.i++
		}
		return nil
	default:
		return errScan
	}
}
