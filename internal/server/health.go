package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

type readiness struct {
	Status string `json:"status"`
	// Node names the hub that answered, so an operator behind a load
	// balancer (and a test harness that picked the port) knows whose
	// readiness this is.
	Node   string            `json:"node"`
	Checks map[string]string `json:"checks"`
	Down   []string          `json:"down,omitempty"`
}

// readyz answers 200 only when every backend answers (and the hub is not
// draining), so load balancers stop routing to a hub that cannot serve.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	res := readiness{Status: "ok", Node: s.cfg.NodeID, Checks: map[string]string{}}
	check := func(name string, err error) {
		if err != nil {
			res.Checks[name] = "down: " + err.Error()
			res.Down = append(res.Down, name)
			return
		}
		res.Checks[name] = "ok"
	}
	check("store", s.store.Ping(ctx))
	check("nats", s.bus.Ping(ctx))
	if s.limits != nil && s.limits.ping != nil {
		check("redis", s.limits.ping(ctx))
	}
	if s.draining.Load() {
		res.Checks["hub"] = "draining"
		res.Down = append(res.Down, "hub")
	}
	status := http.StatusOK
	if len(res.Down) > 0 {
		res.Status = "unavailable"
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}
