package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// DefaultSFUAddr is where a cmd/sfu node serves /healthz, /readyz and
// /metrics unless HUB_SFU_ADDR says otherwise.
const DefaultSFUAddr = "127.0.0.1:8090"

// SFUNetwork is how an SFU (embedded in the hub, or a cmd/sfu node) meets
// the network. The hub's Config and SFUConfig share it, so both read the
// same HUB_SFU_* variables the same way.
type SFUNetwork struct {
	// UDPPort is HUB_SFU_UDP_PORT: > 0 serves every peer on this one UDP
	// port (ICE UDP mux); 0 uses a port per peer from the range below.
	UDPPort int
	// UDPPortMin and UDPPortMax are HUB_SFU_UDP_PORT_MIN/MAX: the ephemeral
	// range for per-peer ports; both 0 lets the OS pick.
	UDPPortMin, UDPPortMax uint16
	// PublicIPs are HUB_SFU_PUBLIC_IP: the addresses announced as host
	// candidates instead of the local ones (NAT 1:1), normalized.
	PublicIPs []string
	// TCPPort is HUB_SFU_TCP_PORT: > 0 accepts ICE over TCP (passive) on
	// this port, for clients whose UDP is blocked; 0 = off.
	TCPPort int
	// Loopback is HUB_SFU_LOOPBACK: dev/test mode offering loopback
	// candidates only (interface lo, mDNS off), so peers on one machine meet.
	Loopback bool
	// MaxTracks is HUB_SFU_MAX_TRACKS: tracks one peer may publish.
	MaxTracks int // HUB_SFU_MAX_TRACKS
}

// networkSettings are the HUB_SFU_* variables of SFUNetwork.
func networkSettings() []setting[SFUNetwork] {
	return []setting[SFUNetwork]{
		{env: "HUB_SFU_UDP_PORT", usage: "one UDP port shared by every call peer (ICE UDP mux); 0 = a port per peer from HUB_SFU_UDP_PORT_MIN..MAX", def: "0",
			set: func(n *SFUNetwork, v string) (err error) { n.UDPPort, err = parseInt(v, 0, 65535); return }},
		{env: "HUB_SFU_UDP_PORT_MIN", usage: "lowest UDP port for call peers; set with HUB_SFU_UDP_PORT_MAX; empty or 0 = the OS picks",
			set: func(n *SFUNetwork, v string) (err error) { n.UDPPortMin, err = parsePortOrUnset(v); return }},
		{env: "HUB_SFU_UDP_PORT_MAX", usage: "highest UDP port for call peers; set with HUB_SFU_UDP_PORT_MIN",
			set: func(n *SFUNetwork, v string) (err error) { n.UDPPortMax, err = parsePortOrUnset(v); return }},
		{env: "HUB_SFU_PUBLIC_IP", usage: "IP address(es), comma-separated, announced to call peers instead of the local ones (NAT 1:1)",
			set: func(n *SFUNetwork, v string) (err error) { n.PublicIPs, err = parseIPs(v); return }},
		{env: "HUB_SFU_TCP_PORT", usage: "TCP port for ICE over TCP, the fallback when UDP is blocked; 0 = off", def: "0",
			set: func(n *SFUNetwork, v string) (err error) { n.TCPPort, err = parseInt(v, 0, 65535); return }},
		{env: "HUB_SFU_LOOPBACK", usage: "dev/test only: offer loopback ICE candidates (interface lo, mDNS off)", def: "false",
			set: func(n *SFUNetwork, v string) (err error) { n.Loopback, err = parseBool(v); return }},
		{env: "HUB_SFU_MAX_TRACKS", usage: "media tracks one call participant may publish", def: "4",
			set: func(n *SFUNetwork, v string) (err error) { n.MaxTracks, err = parseInt(v, 1, 64); return }},
	}
}

// check validates the rules between the HUB_SFU_* settings.
func (n SFUNetwork) check() error {
	switch {
	case n.UDPPortMin != 0 && n.UDPPortMax == 0:
		return &Error{Var: "HUB_SFU_UDP_PORT_MAX", Err: invalid("must be set with HUB_SFU_UDP_PORT_MIN")}
	case n.UDPPortMin == 0 && n.UDPPortMax != 0:
		return &Error{Var: "HUB_SFU_UDP_PORT_MIN", Err: invalid("must be set with HUB_SFU_UDP_PORT_MAX")}
	case n.UDPPortMin > n.UDPPortMax:
		return &Error{Var: "HUB_SFU_UDP_PORT_MAX", Err: invalid(
			"must be at least HUB_SFU_UDP_PORT_MIN = %d (got %d)", n.UDPPortMin, n.UDPPortMax)}
	case n.UDPPort != 0 && n.UDPPortMin != 0:
		// One shared port and a per-peer range exclude each other; taking
		// one silently would leave the firewall rules wrong.
		return &Error{Var: "HUB_SFU_UDP_PORT", Err: invalid(
			"is one shared port; leave HUB_SFU_UDP_PORT_MIN/MAX unset with it (got %d and %d..%d)",
			n.UDPPort, n.UDPPortMin, n.UDPPortMax)}
	}
	return nil
}

func (n SFUNetwork) logAttrs() []slog.Attr {
	return []slog.Attr{
		slog.Int("sfu_udp_port", n.UDPPort),
		slog.Int("sfu_udp_port_min", int(n.UDPPortMin)),
		slog.Int("sfu_udp_port_max", int(n.UDPPortMax)),
		slog.String("sfu_public_ip", strings.Join(n.PublicIPs, ",")),
		slog.Int("sfu_tcp_port", n.TCPPort),
		slog.Bool("sfu_loopback", n.Loopback),
		slog.Int("sfu_max_tracks", n.MaxTracks),
	}
}

// within lifts settings of a part of T (such as SFUNetwork) into settings
// of T.
func within[T, P any](list []setting[P], part func(*T) *P) []setting[T] {
	out := make([]setting[T], 0, len(list))
	for _, s := range list {
		lifted := setting[T]{env: s.env, usage: s.usage, def: s.def, defDoc: s.defDoc, secret: s.secret,
			set: func(c *T, v string) error { return s.set(part(c), v) }}
		if s.derive != nil {
			lifted.derive = func(c *T, env loadEnv) string { return s.derive(part(c), env) }
		}
		out = append(out, lifted)
	}
	return out
}

// SFUConfig is the configuration of a standalone SFU node (cmd/sfu).
type SFUConfig struct {
	NATSURL           string     // HUB_NATS_URL: required; the NATS the hubs use
	NATSSubjectPrefix string     // HUB_NATS_SUBJECT_PREFIX: must match the hubs'
	NodeID            string     // HUB_NODE_ID: this node's name on the bus
	Addr              string     // HUB_SFU_ADDR: HTTP for /healthz, /readyz, /metrics
	Network           SFUNetwork // HUB_SFU_*
	LogLevel          slog.Level // HUB_LOG_LEVEL
	LogFormat         string     // HUB_LOG_FORMAT: LogText or LogJSON
}

// LoadSFU reads a cmd/sfu node's configuration from args and getenv, as
// Load does for the hub.
func LoadSFU(args []string, getenv func(string) string) (SFUConfig, error) {
	return loadSFU(args, getenv, os.Hostname)
}

func loadSFU(args []string, getenv func(string) string, hostname func() (string, error)) (SFUConfig, error) {
	var c SFUConfig
	if err := apply(&c, "sfu", sfuSettings(), SFUUsage, args, getenv, loadEnv{hostname: hostname}); err != nil {
		return SFUConfig{}, err
	}
	if err := c.Network.check(); err != nil {
		return SFUConfig{}, err
	}
	return c, nil
}

// SFUUsage is cmd/sfu's help text.
func SFUUsage() string { return usageOf("sfu", sfuSettings()) }

func sfuSettings() []setting[SFUConfig] {
	list := []setting[SFUConfig]{
		{env: "HUB_NATS_URL", usage: "NATS server URL(s), comma-separated, shared with the hubs; required",
			set: func(c *SFUConfig, v string) (err error) {
				if v == "" {
					return invalid("must be set: an SFU node reaches the hubs over NATS")
				}
				c.NATSURL, err = parseNATSURLs(v)
				return
			}},
		{env: "HUB_NATS_SUBJECT_PREFIX", usage: "first token(s) of every NATS subject; the hubs' value", def: defaultSubjectPrefix,
			set: func(c *SFUConfig, v string) (err error) { c.NATSSubjectPrefix, err = parsePrefix(v); return }},
		{env: "HUB_NODE_ID", usage: "this SFU node's name on the bus: letters, digits, '-' and '_'", defDoc: "hostname-<6 random hex>",
			derive: func(_ *SFUConfig, env loadEnv) string { return defaultNodeID(env.hostname) },
			set:    func(c *SFUConfig, v string) (err error) { c.NodeID, err = parseNodeID(v); return }},
		{env: "HUB_SFU_ADDR", usage: "listen address host:port for /healthz, /readyz and /metrics", def: DefaultSFUAddr,
			set: func(c *SFUConfig, v string) (err error) { c.Addr, err = parseAddr(v); return }},
	}
	list = append(list, within(networkSettings(), func(c *SFUConfig) *SFUNetwork { return &c.Network })...)
	return append(list,
		setting[SFUConfig]{env: "HUB_LOG_LEVEL", usage: "debug, info, warn or error", def: "info",
			set: func(c *SFUConfig, v string) (err error) { c.LogLevel, err = parseLevel(v); return }},
		setting[SFUConfig]{env: "HUB_LOG_FORMAT", usage: "text or json", def: LogText,
			set: func(c *SFUConfig, v string) (err error) { c.LogFormat, err = oneOf(v, LogText, LogJSON); return }},
	)
}

// Logger builds the node's logger writing to w, in LogFormat at LogLevel.
func (c SFUConfig) Logger(w io.Writer) *slog.Logger { return newLogger(w, c.LogLevel, c.LogFormat) }

// LogValue renders the configuration for slog, the NATS password hidden.
func (c SFUConfig) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("nats_url", redactURLList(c.NATSURL)),
		slog.String("nats_subject_prefix", c.NATSSubjectPrefix),
		slog.String("node_id", c.NodeID),
		slog.String("addr", c.Addr),
	}
	attrs = append(attrs, c.Network.logAttrs()...)
	attrs = append(attrs,
		slog.String("log_level", strings.ToLower(c.LogLevel.String())),
		slog.String("log_format", c.LogFormat))
	return slog.GroupValue(attrs...)
}

// String is LogValue as space-separated key=value pairs, also secret-free.
func (c SFUConfig) String() string { return attrsString(c.LogValue()) }

// GoString keeps %#v as secret-free as %v.
func (c SFUConfig) GoString() string { return "config.SFUConfig{" + c.String() + "}" }

func attrsString(v slog.Value) string {
	var b strings.Builder
	for i, a := range v.Group() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%q", a.Key, a.Value.String())
	}
	return b.String()
}
