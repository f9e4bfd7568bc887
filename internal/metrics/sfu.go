package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// SFU holds the collectors of one SFU engine, embedded in a hub or in a
// cmd/sfu node. Its methods run on the forwarding path: each is one atomic
// add.
type SFU struct {
	peers         prometheus.Gauge
	tracks        prometheus.Gauge
	packets       prometheus.Counter
	bytes         prometheus.Counter
	nacks         prometheus.Counter
	retransmitted prometheus.Counter
	plis          prometheus.Counter
}

func newSFU(reg *prometheus.Registry) *SFU {
	m := &SFU{
		peers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sfu_peers", Help: "Peer connections (call participants) on this SFU."}),
		tracks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sfu_tracks", Help: "Published tracks received by this SFU (one per simulcast layer)."}),
		packets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sfu_forwarded_packets_total", Help: "RTP packets written to subscribers."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sfu_forwarded_bytes_total", Help: "RTP bytes written to subscribers."}),
		nacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sfu_nacks_total", Help: "Packets subscribers asked for again (generic NACK)."}),
		retransmitted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sfu_retransmitted_packets_total", Help: "NACKed packets answered from the shared buffer."}),
		plis: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sfu_plis_total", Help: "Keyframe requests (PLI) sent to publishers."}),
	}
	reg.MustRegister(m.peers, m.tracks, m.packets, m.bytes, m.nacks, m.retransmitted, m.plis)
	return m
}

// SFU registers the embedded SFU's collectors on the hub's registry; call
// it once.
func (h *Hub) SFU() *SFU { return newSFU(h.reg) }

// Peers implements sfu.Metrics.
func (m *SFU) Peers(delta int) { m.peers.Add(float64(delta)) }

// Tracks implements sfu.Metrics.
func (m *SFU) Tracks(delta int) { m.tracks.Add(float64(delta)) }

// Forwarded implements sfu.Metrics.
func (m *SFU) Forwarded(packets, bytes int) {
	m.packets.Add(float64(packets))
	m.bytes.Add(float64(bytes))
}

// NACKs implements sfu.Metrics.
func (m *SFU) NACKs(n int) { m.nacks.Add(float64(n)) }

// Retransmitted implements sfu.Metrics.
func (m *SFU) Retransmitted(n int) { m.retransmitted.Add(float64(n)) }

// PLIs implements sfu.Metrics.
func (m *SFU) PLIs(n int) { m.plis.Add(float64(n)) }

// Node holds every collector of a standalone SFU node (cmd/sfu).
type Node struct {
	reg *prometheus.Registry
	SFU *SFU
}

// NewNode registers an SFU node's collectors, plus the Go runtime and
// process ones.
func NewNode() *Node {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Node{reg: reg, SFU: newSFU(reg)}
}

// Handler serves the registry in the Prometheus text format.
func (n *Node) Handler() http.Handler {
	return promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{})
}
