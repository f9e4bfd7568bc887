package config

import (
	"errors"
	"fmt"
)

// Error is a bad value for one setting. Its text is one line:
// "config: HUB_X: what is wrong".
type Error struct {
	Var  string // the HUB_* variable
	Flag string // the flag name (without "-") when the value came from a flag
	Err  error  // what is wrong
}

func (e *Error) Error() string {
	if e.Flag != "" {
		return fmt.Sprintf("config: %s (flag -%s): %v", e.Var, e.Flag, e.Err)
	}
	return fmt.Sprintf("config: %s: %v", e.Var, e.Err)
}

// Unwrap returns what is wrong.
func (e *Error) Unwrap() error { return e.Err }

// ErrInvalid is wrapped by every validation failure, so callers can tell a
// bad value from a bad command line (flag.ErrHelp, unknown flags).
var ErrInvalid = errors.New("invalid value")

// invalid builds a validation failure wrapping ErrInvalid.
func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return ErrInvalid }
