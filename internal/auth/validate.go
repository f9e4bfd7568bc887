package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pawfect/hub/internal/chat"
)

// Account field limits (PROTOCOL §2).
const (
	MinUsernameLen    = 3
	MaxUsernameLen    = 32
	MinPasswordRunes  = 8
	MaxPasswordBytes  = 72 // bcrypt ignores anything longer
	MaxDisplayNameLen = 64 // in runes
	// GuestPrefix starts every guest's username; Register, CreateBot and
	// EnsureAdmin refuse it so that no account can pass for a guest.
	GuestPrefix = "guest_"
)

// validUsername reports whether s is 3–32 characters of [a-z0-9_].
func validUsername(s string) bool {
	if len(s) < MinUsernameLen || len(s) > MaxUsernameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkName validates a username or bot name chosen by a client; field is
// the request field it came from.
func checkName(field, s string) error {
	if !validUsername(s) {
		return chat.Errorf(chat.CodeBadRequest, "%s: 3–32 characters of a-z, 0-9 and _", field)
	}
	if strings.HasPrefix(s, GuestPrefix) {
		return chat.Errorf(chat.CodeBadRequest, "%s: names starting with %q are reserved for guests", field, GuestPrefix)
	}
	return nil
}

// checkPassword enforces at least 8 characters and at most 72 bytes, the
// most bcrypt uses: a longer password is refused rather than cut silently.
func checkPassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordRunes {
		return chat.Errorf(chat.CodeBadRequest, "password: at least %d characters", MinPasswordRunes)
	}
	if len(p) > MaxPasswordBytes {
		return chat.Errorf(chat.CodeBadRequest, "password: at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// displayName trims s and returns it, or def if it is empty. It refuses
// invalid UTF-8, names over 64 characters and control characters (C0, C1,
// line and paragraph separators, and the bidirectional overrides and
// isolates, which could make a name render as another's).
func displayName(s, def string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	if !utf8.ValidString(s) {
		return "", chat.Errorf(chat.CodeBadRequest, "display_name: not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > MaxDisplayNameLen {
		return "", chat.Errorf(chat.CodeBadRequest, "display_name: at most %d characters", MaxDisplayNameLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) || isBidiControl(r) {
			return "", chat.Errorf(chat.CodeBadRequest, "display_name: no control characters")
		}
	}
	return s, nil
}

func isBidiControl(r rune) bool {
	return r == '\u061c' || r == '\u200e' || r == '\u200f' ||
		('\u202a' <= r && r <= '\u202e') || ('\u2066' <= r && r <= '\u2069')
}
