// Package metrics owns the hub's Prometheus registry and the collectors the
// other packages report to through their own small Metrics interfaces. It
// uses its own registry (no global default), so two hubs in one test
// process never share counters.
package metrics
