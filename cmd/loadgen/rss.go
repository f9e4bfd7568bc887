package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// readRSSKiB is VmRSS of pid (0: this process) from /proc/<pid>/status, in KiB.
func readRSSKiB(pid int) (int64, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading RSS: %w", err)
	}
	defer f.Close()
	return parseVmRSS(bufio.NewScanner(f), path)
}

// parseVmRSS finds the "VmRSS:   1234 kB" line.
func parseVmRSS(sc *bufio.Scanner, path string) (int64, error) {
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("%s: odd VmRSS line %q", path, sc.Text())
		}
		return strconv.ParseInt(fields[0], 10, 64)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return 0, fmt.Errorf("%s: no VmRSS line (is it a kernel thread or a zombie?)", path)
}
