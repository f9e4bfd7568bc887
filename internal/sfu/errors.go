package sfu

import "errors"

// Errors the engine's entry points wrap (with %w and the detail in the
// message), so that callers map them to protocol error codes with
// errors.Is.
var (
	// ErrNotFound: no such call, or no such peer in it.
	ErrNotFound = errors.New("sfu: not found")
	// ErrBadRequest: the input is malformed (SDP, candidate JSON, source, kind).
	ErrBadRequest = errors.New("sfu: bad request")
	// ErrConflict: the request does not fit the state (the peer exists, no
	// offer is pending for an answer).
	ErrConflict = errors.New("sfu: conflict")
	// ErrTooManyTracks: the peer would publish more sources than Config.MaxTracks.
	ErrTooManyTracks = errors.New("sfu: too many tracks")
)
