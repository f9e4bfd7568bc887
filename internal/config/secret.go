package config

import "log/slog"

// Secret is a string that never prints: fmt, %v, %q, %#v and slog all show
// "[redacted]" (or "" when it is empty). Call Value to use it.
type Secret string

const redacted = "[redacted]"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// LogValue keeps slog from printing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders (JSON, YAML, …) from printing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
