package config

import "time"

// defaultSubjectPrefix is HUB_NATS_SUBJECT_PREFIX's default, for hubs and
// SFU nodes alike: they must agree to hear each other.
const defaultSubjectPrefix = "hub"

// setting is one HUB_* variable and its flag.
type setting[T any] struct {
	env    string // HUB_* name; the flag is flagName(env)
	usage  string
	def    string // default value, parsed by set like any other value
	defDoc string // how the default is derived, for Usage, when def is ""
	secret bool   // used as is: not trimmed
	// derive computes the default from settings set before it (def == "").
	derive func(c *T, env loadEnv) string
	// set parses and validates v (never empty unless the setting may be
	// empty) into c.
	set func(c *T, v string) error
}

// settings lists every variable in the order they are applied: a derived
// default may only read settings above it. It is a function, not a package
// variable, so there is no shared state to mutate.
func settings() []setting[Config] {
	list := []setting[Config]{
		{env: "HUB_ADDR", usage: "listen address host:port", def: "127.0.0.1:8080",
			set: func(c *Config, v string) (err error) { c.Addr, err = parseAddr(v); return }},
		{env: "HUB_DATA_DIR", usage: "embedded store, generated secrets and uploads", def: "./data",
			set: func(c *Config, v string) error { c.DataDir = v; return nil }},
		{env: "HUB_DATABASE_URL", usage: "postgres://… for PostgreSQL; empty = embedded store",
			set: func(c *Config, v string) (err error) {
				c.DatabaseURL, err = parseServiceURL(v, "postgres", "postgresql")
				return
			}},
		{env: "HUB_NATS_URL", usage: "NATS server URL(s), comma-separated; empty = in-process NATS",
			set: func(c *Config, v string) (err error) { c.NATSURL, err = parseNATSURLs(v); return }},
		{env: "HUB_REDIS_URL", usage: "redis://… for presence and rate limits in Redis; empty = in-process",
			set: func(c *Config, v string) (err error) {
				c.RedisURL, err = parseServiceURL(v, "redis", "rediss", "unix")
				return
			}},
		{env: "HUB_JWT_SECRET", usage: "HMAC key for access tokens, at least 32 bytes, used as is; empty = generated in the data dir", secret: true,
			set: func(c *Config, v string) error {
				if v != "" && len(v) < minSecretLen {
					return invalid("must be at least %d bytes (got %d)", minSecretLen, len(v))
				}
				c.JWTSecret = Secret(v)
				return nil
			}},
		{env: "HUB_PUBLIC_URL", usage: "the URL browsers use to reach the hub", defDoc: "http:// + HUB_ADDR",
			derive: func(c *Config, _ loadEnv) string { return defaultPublicURL(c.Addr) },
			set:    func(c *Config, v string) (err error) { c.PublicURL, err = parsePublicURL(v); return }},
		{env: "HUB_ALLOWED_ORIGINS", usage: "extra browser origins allowed to open WebSockets, comma-separated scheme://host[:port]",
			set: func(c *Config, v string) (err error) { c.ExtraOrigins, err = parseOrigins(v); return }},
		{env: "HUB_BOOTSTRAP_ADMIN", usage: "name:password of an admin account that exists after start-up", secret: true,
			set: func(c *Config, v string) (err error) { c.BootstrapAdmin, err = parseAdmin(v); return }},
		{env: "HUB_AI_BASE_URL", usage: "OpenAI-compatible chat-completions base URL; empty = the built-in offline assistant",
			set: func(c *Config, v string) error {
				if v == "" {
					c.AIBaseURL = ""
					return nil
				}
				u, err := parseHTTPURL(v)
				c.AIBaseURL = u
				return err
			}},
		{env: "HUB_AI_API_KEY", usage: "API key for HUB_AI_BASE_URL", secret: true,
			set: func(c *Config, v string) error { c.AIAPIKey = Secret(v); return nil }},
		{env: "HUB_AI_MODEL", usage: "default model name for HUB_AI_BASE_URL",
			set: func(c *Config, v string) error { c.AIModel = v; return nil }},
		{env: "HUB_SFU", usage: "embedded, or nats to use cmd/sfu nodes found over NATS", def: SFUEmbedded,
			set: func(c *Config, v string) (err error) { c.SFU, err = oneOf(v, SFUEmbedded, SFUNATS); return }},
	}
	list = append(list, within(networkSettings(), func(c *Config) *SFUNetwork { return &c.SFUNetwork })...)
	return append(list, []setting[Config]{
		{env: "HUB_STUN_URLS", usage: "STUN server URLs (stun: or stuns:), comma-separated, handed to clients joining a call",
			set: func(c *Config, v string) (err error) { c.STUNURLs, err = parseICEURLs(v, "stun", "stuns"); return }},
		{env: "HUB_TURN_URLS", usage: "TURN server URLs (turn: or turns:), comma-separated, handed to clients with time-limited credentials; needs HUB_TURN_SECRET",
			set: func(c *Config, v string) (err error) { c.TURNURLs, err = parseICEURLs(v, "turn", "turns"); return }},
		{env: "HUB_TURN_SECRET", usage: "the TURN server's shared secret (coturn static-auth-secret), used as is", secret: true,
			set: func(c *Config, v string) error { c.TURNSecret = Secret(v); return nil }},
		{env: "HUB_TURN_TTL", usage: "lifetime of the TURN credentials handed to a client, at least 1m", def: "12h",
			set: func(c *Config, v string) (err error) { c.TURNTTL, err = parseAtLeast(v, time.Minute); return }},
		{env: "HUB_CALL_MAX_PARTICIPANTS", usage: "participants one call may have, 2..1000", def: "16",
			set: func(c *Config, v string) (err error) { c.CallMaxParticipants, err = parseInt(v, 2, 1000); return }},
		{env: "HUB_CALL_RING_TIMEOUT", usage: "how long a one-on-one call rings before it ends unanswered", def: "30s",
			set: func(c *Config, v string) (err error) { c.CallRingTimeout, err = parseDuration(v); return }},

		{env: "HUB_NODE_ID", usage: "this hub's name on the bus: letters, digits, '-' and '_'", defDoc: "hostname-<6 random hex>",
			derive: func(_ *Config, env loadEnv) string { return defaultNodeID(env.hostname) },
			set:    func(c *Config, v string) (err error) { c.NodeID, err = parseNodeID(v); return }},
		{env: "HUB_NATS_SUBJECT_PREFIX", usage: "first token(s) of every NATS subject", def: defaultSubjectPrefix,
			set: func(c *Config, v string) (err error) { c.NATSSubjectPrefix, err = parsePrefix(v); return }},
		{env: "HUB_LOG_LEVEL", usage: "debug, info, warn or error", def: "info",
			set: func(c *Config, v string) (err error) { c.LogLevel, err = parseLevel(v); return }},
		{env: "HUB_LOG_FORMAT", usage: "text or json", def: LogText,
			set: func(c *Config, v string) (err error) { c.LogFormat, err = oneOf(v, LogText, LogJSON); return }},

		{env: "HUB_MAX_MESSAGE_CHARS", usage: "characters allowed in one message", def: "4000",
			set: func(c *Config, v string) (err error) { c.MaxMessageChars, err = parseInt(v, 1, 1<<20); return }},
		{env: "HUB_MAX_FRAME_BYTES", usage: "bytes allowed in one WebSocket frame", def: "65536",
			set: func(c *Config, v string) (err error) { c.MaxFrameBytes, err = parseInt(v, 1024, 64<<20); return }},
		{env: "HUB_SEND_RATE", usage: "messages a user may send, as count/duration", def: "20/10s",
			set: func(c *Config, v string) (err error) { c.SendRate, err = parseRate(v); return }},
		{env: "HUB_MAX_JOINED_ROOMS", usage: "rooms one connection may join", def: "50",
			set: func(c *Config, v string) (err error) { c.MaxJoinedRooms, err = parseInt(v, 1, 1<<20); return }},
		{env: "HUB_OUTBOUND_QUEUE", usage: "events queued per connection before it is dropped as a slow consumer", def: "256",
			set: func(c *Config, v string) (err error) { c.OutboundQueue, err = parseInt(v, 1, 1<<20); return }},
		{env: "HUB_PING_INTERVAL", usage: "WebSocket ping period", def: "25s",
			set: func(c *Config, v string) (err error) { c.PingInterval, err = parseDuration(v); return }},
		{env: "HUB_PONG_TIMEOUT", usage: "how long to wait for a pong", def: "10s",
			set: func(c *Config, v string) (err error) { c.PongTimeout, err = parseDuration(v); return }},
		{env: "HUB_WRITE_TIMEOUT", usage: "deadline for one WebSocket write", def: "10s",
			set: func(c *Config, v string) (err error) { c.WriteTimeout, err = parseDuration(v); return }},
		{env: "HUB_AUTH_TIMEOUT", usage: "time a new WebSocket has to authenticate", def: "10s",
			set: func(c *Config, v string) (err error) { c.AuthTimeout, err = parseDuration(v); return }},
		{env: "HUB_SHUTDOWN_TIMEOUT", usage: "graceful drain time on shutdown", def: "15s",
			set: func(c *Config, v string) (err error) { c.ShutdownTimeout, err = parseDuration(v); return }},
		{env: "HUB_TOKEN_TTL", usage: "lifetime of user and guest tokens", def: "24h",
			set: func(c *Config, v string) (err error) { c.TokenTTL, err = parseDuration(v); return }},
		{env: "HUB_BOT_TOKEN_TTL", usage: "lifetime of bot tokens", def: "87600h",
			set: func(c *Config, v string) (err error) { c.BotTokenTTL, err = parseDuration(v); return }},
		{env: "HUB_BCRYPT_COST", usage: "bcrypt cost for passwords, 10..16", def: "12",
			set: func(c *Config, v string) (err error) { c.BcryptCost, err = parseInt(v, 10, 16); return }},
		{env: "HUB_REPAIR_INTERVAL", usage: "how often a hub compares stored last_seq with what it delivered", def: "2s",
			set: func(c *Config, v string) (err error) { c.RepairInterval, err = parseDuration(v); return }},
		{env: "HUB_WRITE_COALESCE", usage: "least time between two writes to one WebSocket; faster events are written together (0 = write at once)", def: "20ms",
			set: func(c *Config, v string) (err error) { c.WriteCoalesce, err = parseDurationOrZero(v); return }},
		{env: "HUB_DEBUG_ADDR", usage: "listen address for Go's pprof profiling endpoints (/debug/pprof/); empty = off. Never expose it publicly",
			set: func(c *Config, v string) (err error) {
				if v == "" {
					c.DebugAddr = ""
					return nil
				}
				c.DebugAddr, err = parseAddr(v)
				return
			}},

		{env: "HUB_WEBHOOK_POLL_INTERVAL", usage: "how often each hub looks for webhook deliveries that are due", def: "1s",
			set: func(c *Config, v string) (err error) { c.WebhookPollInterval, err = parseDuration(v); return }},
		{env: "HUB_WEBHOOK_RETRY_BASE", usage: "wait after a webhook delivery's first failed attempt; doubled after each further one", def: "5s",
			set: func(c *Config, v string) (err error) { c.WebhookRetryBase, err = parseDuration(v); return }},
		{env: "HUB_WEBHOOK_RETRY_CAP", usage: "longest wait between two attempts of a webhook delivery", def: "10m",
			set: func(c *Config, v string) (err error) { c.WebhookRetryCap, err = parseDuration(v); return }},
		{env: "HUB_WEBHOOK_GIVE_UP", usage: "age at which a webhook delivery still failing is given up, at least 1h", def: "24h",
			set: func(c *Config, v string) (err error) { c.WebhookGiveUp, err = parseGiveUp(v); return }},
		{env: "HUB_WEBHOOK_TIMEOUT", usage: "time one webhook POST may take, response included", def: "10s",
			set: func(c *Config, v string) (err error) { c.WebhookTimeout, err = parseDuration(v); return }},
		{env: "HUB_WEBHOOK_WORKERS", usage: "webhook deliveries one hub makes at once", def: "8",
			set: func(c *Config, v string) (err error) { c.WebhookWorkers, err = parseInt(v, 1, 1024); return }},
	}...)
}
