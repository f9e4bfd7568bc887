//go:build !unix

package main

import "log/slog"

// raiseNoFile is a no-op where there is no RLIMIT_NOFILE.
func raiseNoFile(int, *slog.Logger) error { return nil }
