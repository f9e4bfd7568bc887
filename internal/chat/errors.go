package chat

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is a machine-readable error code from PROTOCOL §8.
type Code string

// Error codes.
const (
	CodeBadRequest   Code = "bad_request"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeNotFound     Code = "not_found"
	CodeConflict     Code = "conflict"
	CodeTooLarge     Code = "too_large"
	CodeRateLimited  Code = "rate_limited"
	CodeUnavailable  Code = "unavailable"
	CodeInternal     Code = "internal"
)

// WebSocket close codes the hub uses. 1000-range codes are RFC 6455's;
// 4000-range ones are the hub's own.
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001 // graceful shutdown: recover on another hub
	ClosePolicy       = 1008
	CloseTooBig       = 1009
	CloseInternal     = 1011
	CloseUnauthorized = 4001
	CloseKicked       = 4003 // an admin disconnected this connection
	CloseSlowConsumer = 4008
)

// codeInfo is the one table mapping each code to its HTTP status.
var codeInfo = map[Code]int{
	CodeBadRequest:   http.StatusBadRequest,
	CodeUnauthorized: http.StatusUnauthorized,
	CodeForbidden:    http.StatusForbidden,
	CodeNotFound:     http.StatusNotFound,
	CodeConflict:     http.StatusConflict,
	CodeTooLarge:     http.StatusRequestEntityTooLarge,
	CodeRateLimited:  http.StatusTooManyRequests,
	CodeUnavailable:  http.StatusServiceUnavailable,
	CodeInternal:     http.StatusInternalServerError,
}

// HTTPStatus is the HTTP status that goes with c.
func (c Code) HTTPStatus() int {
	if s, ok := codeInfo[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an error with a protocol code, safe to show to the client.
type Error struct {
	Code       Code   `json:"code"`
	Message    string `json:"message"`
	RetryAfter int64  `json:"retry_after_ms,omitempty"`
	// cause is logged, never sent.
	cause error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause, so errors.Is sees through an Error.
func (e *Error) Unwrap() error { return e.cause }

// Errorf builds an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an Error that keeps cause for logs and errors.Is.
func Wrap(code Code, cause error, message string) *Error {
	return &Error{Code: code, Message: message, cause: cause}
}

// RateLimited builds a rate_limited error with its retry hint.
func RateLimited(retryAfter time.Duration) *Error {
	ms := retryAfter.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return &Error{Code: CodeRateLimited, Message: "too many requests, slow down", RetryAfter: ms}
}

// Sentinel errors returned by stores and services; AsError maps them to codes.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("already exists")
	ErrUnavailable = errors.New("backend unavailable")
)

// AsError turns any error into a client-safe *Error. Unknown errors become
// internal, with their text kept only as the cause.
func AsError(err error) *Error {
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case errors.Is(err, ErrNotFound):
		return Wrap(CodeNotFound, err, "not found")
	case errors.Is(err, ErrConflict):
		return Wrap(CodeConflict, err, "already exists")
	case errors.Is(err, ErrUnavailable):
		return Wrap(CodeUnavailable, err, "a backend is unavailable; nothing was stored, retry later")
	default:
		return Wrap(CodeInternal, err, "internal error")
	}
}
