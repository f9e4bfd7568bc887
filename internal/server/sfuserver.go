package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/pawfect/hub/internal/bus"
	"github.com/pawfect/hub/internal/config"
	"github.com/pawfect/hub/internal/metrics"
)

// SFUNode is a standalone SFU node (cmd/sfu): it announces itself and its
// load on NATS and serves the calls that hubs place on it.
type SFUNode struct {
	cfg     config.SFUConfig
	log     *slog.Logger
	bus     *bus.Bus
	metrics *metrics.Node
	node    *sfuNode
	http    *http.Server
	ln      net.Listener
}

// NewSFUNode connects to NATS, starts the engine and binds the node's
// HTTP listener (/healthz, /readyz, /metrics); Run serves it.
func NewSFUNode(ctx context.Context, cfg config.SFUConfig, log *slog.Logger) (_ *SFUNode, err error) {
	if log == nil {
		log = slog.Default()
	}
	log = log.With("node", cfg.NodeID)
	n := &SFUNode{cfg: cfg, log: log, metrics: metrics.NewNode()}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if n.bus, err = bus.Open(ctx, bus.Options{
		URL: cfg.NATSURL, Name: "sfu-" + cfg.NodeID, Prefix: cfg.NATSSubjectPrefix, Logger: log,
	}); err != nil {
		return nil, fmt.Errorf("sfu: HUB_NATS_URL: %w", err)
	}
	log.Info("bus: NATS", "url", redact(cfg.NATSURL), "prefix", cfg.NATSSubjectPrefix)
	if n.node, err = startSFUNode(n.bus, cfg.NodeID, cfg.Network, n.metrics.SFU, log); err != nil {
		return nil, err
	}
	if n.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("sfu: HUB_SFU_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", n.readyz)
	mux.Handle("GET /metrics", n.metrics.Handler())
	n.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("sfu node ready", "addr", n.ln.Addr().String())
	return n, nil
}

// Addr is the address of the node's HTTP listener.
func (n *SFUNode) Addr() string { return n.ln.Addr().String() }

// Run serves until ctx ends, then says goodbye (the hubs end this node's
// calls at once instead of after the beat timeout) and closes.
func (n *SFUNode) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- n.http.Serve(n.ln) }()
	select {
	case err := <-errc:
		n.close()
		return fmt.Errorf("sfu: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := n.http.Shutdown(sctx)
	<-errc
	n.close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sfu: shut down http: %w", err)
	}
	return nil
}

func (n *SFUNode) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	res := readiness{Status: "ok", Node: n.cfg.NodeID, Checks: map[string]string{"nats": "ok"}}
	status := http.StatusOK
	if err := n.bus.Ping(ctx); err != nil {
		res.Status, res.Checks["nats"], res.Down = "unavailable", "down: "+err.Error(), []string{"nats"}
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

func (n *SFUNode) close() {
	if n.node != nil {
		n.node.close()
	}
	if n.ln != nil && n.http == nil {
		_ = n.ln.Close()
	}
	if n.bus != nil {
		n.bus.Close()
	}
}
