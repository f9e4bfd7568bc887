package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Result is what a run reports, as text and (with -json) as JSON.
type Result struct {
	Scenario        string   `json:"scenario"`
	Hubs            []string `json:"hubs"`
	Clients         int      `json:"clients"`
	Receivers       int      `json:"receivers,omitempty"`
	PublisherConns  int      `json:"publisher_conns,omitempty"` // connections that send (in rooms they also receive)
	Rooms           int      `json:"rooms"`
	RatePerRoom     float64  `json:"rate_per_room,omitempty"`
	WarmupSeconds   float64  `json:"warmup_s"`
	DurationSeconds float64  `json:"duration_s"`

	Messages *MessageCounts `json:"messages,omitempty"`
	Events   *EventCounts   `json:"events,omitempty"`
	Latency  *Latency       `json:"latency_ms,omitempty"`  // send → message event at a receiver
	AckTime  *Latency       `json:"send_ack_ms,omitempty"` // send → ok reply at the sender
	Idle     *IdleResult    `json:"idle,omitempty"`
	Inspect  *InspectResult `json:"inspect,omitempty"`

	// PerHub is how the connections were spread over -hubs, in its order.
	PerHub []HubCount `json:"per_hub"`

	Disconnects       int64            `json:"disconnects"` // connections the hub ended
	DisconnectsByCode map[string]int64 `json:"disconnects_by_close_code,omitempty"`
	LoadgenRSSKiB     int64            `json:"loadgen_rss_kib"`
}

// MessageCounts are the sends of the measured window. Failed includes
// rate_limited, replies missing at the end (no_reply) and write errors.
type MessageCounts struct {
	Sent         int64            `json:"sent"`
	TargetPerSec float64          `json:"target_per_s"` // -rate × rooms
	SentPerSec   float64          `json:"sent_per_s"`   // below target: ticks were dropped (a saturated host), never bursted
	Acked        int64            `json:"acked"`
	Failed       int64            `json:"failed"`
	RateLimited  int64            `json:"rate_limited"`
	FailedByCode map[string]int64 `json:"failed_by_code,omitempty"`
	WarmupSent   int64            `json:"warmup_sent"`
	WarmupFailed int64            `json:"warmup_failed"`
}

// EventCounts compare message events received with those owed:
// Expected = acked window messages × receivers of their room. Lost is the
// shortfall of Delivered (first sightings); Gaps (seqs skipped and never
// seen), OutOfOrder (seen after a higher seq) and Duplicated (seen again)
// come from each receiver's seq check over the whole run; Extra counts
// deliveries beyond Expected (e.g. a send whose reply never came but was
// stored).
type EventCounts struct {
	Expected   int64   `json:"expected"`
	Delivered  int64   `json:"delivered"`
	Lost       int64   `json:"lost"`
	Extra      int64   `json:"extra"`
	Gaps       int64   `json:"seq_gaps"`
	OutOfOrder int64   `json:"out_of_order"`
	Duplicated int64   `json:"duplicated"`
	Foreign    int64   `json:"foreign"`
	PerSecond  float64 `json:"delivered_per_s"`
}

// Latency summarises a histogram in milliseconds.
type Latency struct {
	Samples uint64  `json:"samples"`
	Mean    float64 `json:"mean"`
	P50     float64 `json:"p50"`
	P90     float64 `json:"p90"`
	P99     float64 `json:"p99"`
	P999    float64 `json:"p999"`
	Max     float64 `json:"max"`
}

func latencyOf(h *Histogram) *Latency {
	ms := func(us uint64) float64 { return float64(us) / 1000 }
	return &Latency{
		Samples: h.Count(),
		Mean:    h.Mean() / 1000,
		P50:     ms(h.Quantile(0.50)),
		P90:     ms(h.Quantile(0.90)),
		P99:     ms(h.Quantile(0.99)),
		P999:    ms(h.Quantile(0.999)),
		Max:     ms(h.Max()),
	}
}

// HubCount is one hub's share of the connections.
type HubCount struct {
	URL     string `json:"url"`
	Clients int    `json:"clients"`
	Dropped int64  `json:"dropped"` // connections to it the hub ended
}

// InspectResult is the admin room inspection load on one hub.
type InspectResult struct {
	Hub       string          `json:"hub"`
	Workers   int             `json:"workers"`
	ListEvery int             `json:"list_every,omitempty"`
	Detail    *EndpointResult `json:"detail"`
	List      *EndpointResult `json:"list,omitempty"`
}

// EndpointResult counts the requests to one endpoint started in the
// measured window. Latency covers the OK answers only.
type EndpointResult struct {
	Path     string           `json:"path"`
	Requests int64            `json:"requests"`
	OK       int64            `json:"ok"`
	OKPerSec float64          `json:"ok_per_s"`
	Latency  *Latency         `json:"latency_ms,omitempty"`
	Errors   map[string]int64 `json:"errors,omitempty"` // HTTP status, "transport" or "bad_body" → count
}

// IdleResult is the idle scenario's memory reading.
type IdleResult struct {
	Target          int     `json:"target_conns"`
	Held            int64   `json:"conns_held"`
	HubPID          int     `json:"hub_pid,omitempty"`
	HubRSSBeforeKiB int64   `json:"hub_rss_before_kib,omitempty"`
	HubRSSAfterKiB  int64   `json:"hub_rss_after_kib,omitempty"`
	HubRSSEndKiB    int64   `json:"hub_rss_end_kib,omitempty"`
	KiBPerConn      float64 `json:"hub_kib_per_conn,omitempty"`
	LoadgenKiBConn  float64 `json:"loadgen_kib_per_conn"`
}

// writeText prints r for people.
func writeText(w io.Writer, r *Result) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("scenario   %s", r.Scenario)
	p("hubs       %s", strings.Join(r.Hubs, ", "))
	switch {
	case r.Idle != nil:
		p("clients    %d, rooms %d", r.Clients, r.Rooms)
	default:
		p("clients    %d (%d receivers, %d publishing), rooms %d, %g msg/s per room",
			r.Clients, r.Receivers, r.PublisherConns, r.Rooms, r.RatePerRoom)
	}
	if len(r.PerHub) > 1 {
		for _, h := range r.PerHub {
			p("  hub      %s: %d clients, %d dropped", h.URL, h.Clients, h.Dropped)
		}
	}
	p("duration   %v measured after %v warmup", secs(r.DurationSeconds), secs(r.WarmupSeconds))
	if m := r.Messages; m != nil {
		p("messages   sent %d (%.1f/s, target %g/s)  acked %d  failed %d  (rate_limited %d%s)  [warmup: sent %d, failed %d]",
			m.Sent, m.SentPerSec, m.TargetPerSec, m.Acked, m.Failed, m.RateLimited, codes(m.FailedByCode), m.WarmupSent, m.WarmupFailed)
	}
	if e := r.Events; e != nil {
		p("events     expected %d  delivered %d  lost %d  duplicated %d  out of order %d  seq gaps %d  extra %d",
			e.Expected, e.Delivered, e.Lost, e.Duplicated, e.OutOfOrder, e.Gaps, e.Extra)
		p("throughput %.0f delivered events/s", e.PerSecond)
	}
	if l := r.Latency; l != nil {
		p("latency    p50 %.3f  p90 %.3f  p99 %.3f  p999 %.3f  max %.3f ms  (mean %.3f, %d samples)",
			l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean, l.Samples)
	}
	if l := r.AckTime; l != nil {
		p("send ack   p50 %.3f  p90 %.3f  p99 %.3f  p999 %.3f  max %.3f ms  (%d samples)",
			l.P50, l.P90, l.P99, l.P999, l.Max, l.Samples)
	}
	if in := r.Inspect; in != nil {
		p("inspect    %s, %d workers", in.Hub, in.Workers)
		for _, ep := range []*EndpointResult{in.Detail, in.List} {
			if ep == nil {
				continue
			}
			line := fmt.Sprintf("  GET %-21s %d requests, %d ok (%.1f/s)", ep.Path, ep.Requests, ep.OK, ep.OKPerSec)
			if l := ep.Latency; l != nil {
				line += fmt.Sprintf("  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms", l.P50, l.P90, l.P99, l.Max)
			}
			if len(ep.Errors) > 0 {
				line += "  errors" + strings.TrimPrefix(codes(ep.Errors), ",")
			}
			p("%s", line)
		}
	}
	if i := r.Idle; i != nil {
		p("held       %d of %d connections", i.Held, i.Target)
		if i.HubPID > 0 {
			p("hub rss    pid %d: before %s  after %s  end %s  → %.1f KiB per connection",
				i.HubPID, kib(i.HubRSSBeforeKiB), kib(i.HubRSSAfterKiB), kib(i.HubRSSEndKiB), i.KiBPerConn)
		}
	}
	p("dropped    %d connections ended by the hub%s", r.Disconnects, codes(r.DisconnectsByCode))
	if r.Idle != nil {
		p("loadgen    rss %s (%.1f KiB per connection)", kib(r.LoadgenRSSKiB), r.Idle.LoadgenKiBConn)
	} else {
		p("loadgen    rss %s", kib(r.LoadgenRSSKiB))
	}
}

// writeJSON prints r as one line of JSON.
func writeJSON(w io.Writer, r *Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func kib(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }

// codes formats a by-code map as ", code n, code n".
func codes(m map[string]int64) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, ", %s %d", k, m[k])
	}
	return b.String()
}
