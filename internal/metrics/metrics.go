package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Hub holds every collector of one hub process.
type Hub struct {
	reg *prometheus.Registry

	connections     prometheus.Gauge
	joinedRooms     prometheus.Gauge
	activeRooms     prometheus.Gauge
	messagesStored  prometheus.Counter
	sendLatency     prometheus.Histogram
	eventsDelivered prometheus.Counter
	eventsWritten   prometheus.Counter
	slowConsumers   prometheus.Counter
	publishFailures prometheus.Counter
	gapRepairs      prometheus.Counter
	busEvents       *prometheus.CounterVec
}

// New registers the hub's collectors, plus the Go runtime and process ones.
func New() *Hub {
	reg := prometheus.NewRegistry()
	h := &Hub{
		reg: reg,
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hub_connections", Help: "Open WebSocket connections on this hub."}),
		joinedRooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hub_joined_rooms", Help: "Room joins held by this hub's connections."}),
		activeRooms: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hub_active_rooms", Help: "Rooms this hub is subscribed to because it has local connections in them."}),
		messagesStored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hub_messages_stored_total", Help: "Messages stored by sends on this hub."}),
		sendLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hub_send_duration_seconds", Help: "Time from a send's arrival to its durable commit.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5}}),
		eventsDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hub_events_delivered_total", Help: "Events handed to local connections' queues."}),
		eventsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hub_frames_written_total", Help: "Frames written to WebSocket connections."}),
		slowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hub_slow_consumers_dropped_total", Help: "Connections closed because they did not read their events fast enough."}),
		publishFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hub_publish_failures_total", Help: "Events that could not be published on the bus (repaired from the store)."}),
		gapRepairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hub_gap_repaired_messages_total", Help: "Messages delivered from the store because the bus lost or reordered them."}),
		busEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hub_bus_events_total", Help: "Bus connection events by kind."}, []string{"event"}),
	}
	reg.MustRegister(h.connections, h.joinedRooms, h.activeRooms, h.messagesStored, h.sendLatency,
		h.eventsDelivered, h.eventsWritten, h.slowConsumers, h.publishFailures, h.gapRepairs, h.busEvents,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return h
}

// Handler serves the registry in the Prometheus text format.
func (h *Hub) Handler() http.Handler {
	return promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{})
}

// Connections implements signaling.Metrics.
func (h *Hub) Connections(delta int) { h.connections.Add(float64(delta)) }

// JoinedRooms implements signaling.Metrics.
func (h *Hub) JoinedRooms(delta int) { h.joinedRooms.Add(float64(delta)) }

// SlowConsumer implements signaling.Metrics.
func (h *Hub) SlowConsumer() { h.slowConsumers.Inc() }

// EventsWritten implements signaling.Metrics.
func (h *Hub) EventsWritten(n int) { h.eventsWritten.Add(float64(n)) }

// MessageStored implements rooms.Metrics.
func (h *Hub) MessageStored(latency time.Duration) {
	h.messagesStored.Inc()
	h.sendLatency.Observe(latency.Seconds())
}

// EventsDelivered implements rooms.Metrics.
func (h *Hub) EventsDelivered(n int) { h.eventsDelivered.Add(float64(n)) }

// PublishFailed implements rooms.Metrics.
func (h *Hub) PublishFailed() { h.publishFailures.Inc() }

// GapRepaired implements rooms.Metrics.
func (h *Hub) GapRepaired(n int) { h.gapRepairs.Add(float64(n)) }

// RoomsActive implements rooms.Metrics.
func (h *Hub) RoomsActive(delta int) { h.activeRooms.Add(float64(delta)) }

// BusEvent counts a bus connection event (disconnect, reconnect, slow consumer).
func (h *Hub) BusEvent(kind string) { h.busEvents.WithLabelValues(kind).Inc() }
