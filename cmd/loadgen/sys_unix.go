//go:build unix

package main

import (
	"fmt"
	"log/slog"
	"syscall"
)

// fdHeadroom is the descriptors loadgen needs beside its WebSockets
// (HTTP set-up connections, stdio, the runtime).
const fdHeadroom = 256

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit and fails if
// even that is too low for conns connections.
func raiseNoFile(conns int, log *slog.Logger) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		old := lim.Cur
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("setrlimit RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
		log.Info("raised RLIMIT_NOFILE to the hard limit", "from", old, "to", lim.Max)
	}
	need := uint64(conns) + fdHeadroom
	if lim.Cur < need {
		return fmt.Errorf("RLIMIT_NOFILE hard limit is %d but %d connections need about %d descriptors: raise the hard limit (ulimit -Hn as root, or LimitNOFILE= for a systemd unit) or open fewer connections",
			lim.Max, conns, need)
	}
	return nil
}
