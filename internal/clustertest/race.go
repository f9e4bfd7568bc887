//go:build race

package clustertest

// raceEnabled reports whether this test binary was built with -race; the
// hubs it starts are built the same way.
const raceEnabled = true
