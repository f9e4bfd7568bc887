package auditid

import (
	"math"
	"strconv"

	"github.com/pawfect/hub/internal/chat"
)

// Format is the ID of the entry with key k.
func Format(k int64) string { return strconv.FormatInt(k, 10) }

// Before parses the before cursor of an audit query into an exclusive
// upper bound on keys. Empty means no bound. Anything but a canonical
// positive decimal integer (no sign, no leading zero, no spaces, within
// int64) is a bad_request naming the field: such a string can never be an
// ID the hub handed out. A well-formed ID that names no entry is still a
// bound, so a client may page from any point.
func Before(s string) (int64, error) {
	if s == "" {
		return math.MaxInt64, nil
	}
	bad := chat.Errorf(chat.CodeBadRequest, "before: %q is not an audit entry id", s)
	if s[0] < '1' || s[0] > '9' {
		return 0, bad
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	k, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, bad
	}
	return k, nil
}
