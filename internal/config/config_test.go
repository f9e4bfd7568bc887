package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// env turns a map into a getenv function.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func fixedHost(name string) func() (string, error) {
	return func() (string, error) { return name, nil }
}

func mustLoad(t *testing.T, args []string, m map[string]string) Config {
	t.Helper()
	c, err := load(args, env(m), fixedHost("testhost"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	tests := []struct {
		name      string
		got, want any
	}{
		{"Addr", c.Addr, "127.0.0.1:8080"},
		{"DataDir", c.DataDir, "./data"},
		{"DatabaseURL", c.DatabaseURL, ""},
		{"NATSURL", c.NATSURL, ""},
		{"RedisURL", c.RedisURL, ""},
		{"JWTSecret", c.JWTSecret, Secret("")},
		{"PublicURL", c.PublicURL, "http://127.0.0.1:8080"},
		{"ExtraOrigins", len(c.ExtraOrigins), 0},
		{"BootstrapAdmin", c.BootstrapAdmin.IsSet(), false},
		{"AIBaseURL", c.AIBaseURL, ""},
		{"AIAPIKey", c.AIAPIKey, Secret("")},
		{"AIModel", c.AIModel, ""},
		{"SFU", c.SFU, SFUEmbedded},
		{"NATSSubjectPrefix", c.NATSSubjectPrefix, "hub"},
		{"LogLevel", c.LogLevel, slog.LevelInfo},
		{"LogFormat", c.LogFormat, LogText},
		{"MaxMessageChars", c.MaxMessageChars, 4000},
		{"MaxFrameBytes", c.MaxFrameBytes, 65536},
		{"SendRate", c.SendRate, Rate{Count: 20, Per: 10 * time.Second}},
		{"MaxJoinedRooms", c.MaxJoinedRooms, 50},
		{"OutboundQueue", c.OutboundQueue, 256},
		{"PingInterval", c.PingInterval, 25 * time.Second},
		{"PongTimeout", c.PongTimeout, 10 * time.Second},
		{"WriteTimeout", c.WriteTimeout, 10 * time.Second},
		{"AuthTimeout", c.AuthTimeout, 10 * time.Second},
		{"ShutdownTimeout", c.ShutdownTimeout, 15 * time.Second},
		{"TokenTTL", c.TokenTTL, 24 * time.Hour},
		{"BotTokenTTL", c.BotTokenTTL, 87600 * time.Hour},
		{"BcryptCost", c.BcryptCost, 12},
		{"RepairInterval", c.RepairInterval, 2 * time.Second},
		{"WebhookPollInterval", c.WebhookPollInterval, time.Second},
		{"WebhookRetryBase", c.WebhookRetryBase, 5 * time.Second},
		{"WebhookRetryCap", c.WebhookRetryCap, 10 * time.Minute},
		{"WebhookGiveUp", c.WebhookGiveUp, 24 * time.Hour},
		{"WebhookTimeout", c.WebhookTimeout, 10 * time.Second},
		{"WebhookWorkers", c.WebhookWorkers, 8},
		{"SFUNetwork.UDPPort", c.SFUNetwork.UDPPort, 0},
		{"SFUNetwork.UDPPortMin", c.SFUNetwork.UDPPortMin, uint16(0)},
		{"SFUNetwork.UDPPortMax", c.SFUNetwork.UDPPortMax, uint16(0)},
		{"SFUNetwork.PublicIPs", len(c.SFUNetwork.PublicIPs), 0},
		{"SFUNetwork.TCPPort", c.SFUNetwork.TCPPort, 0},
		{"SFUNetwork.Loopback", c.SFUNetwork.Loopback, false},
		{"SFUNetwork.MaxTracks", c.SFUNetwork.MaxTracks, 4},
		{"STUNURLs", len(c.STUNURLs), 0},
		{"TURNURLs", len(c.TURNURLs), 0},
		{"TURNSecret", c.TURNSecret, Secret("")},
		{"TURNTTL", c.TURNTTL, 12 * time.Hour},
		{"CallMaxParticipants", c.CallMaxParticipants, 16},
		{"CallRingTimeout", c.CallRingTimeout, 30 * time.Second},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if !regexp.MustCompile(`^testhost-[0-9a-f]{6}$`).MatchString(c.NodeID) {
		t.Errorf("NodeID: got %q, want testhost-<6 hex>", c.NodeID)
	}
	// Load (the exported one) with a nil getenv works too.
	if _, err := Load(nil, nil); err != nil {
		t.Errorf("Load(nil, nil): %v", err)
	}
}

func TestDefaultNodeID(t *testing.T) {
	tests := []struct {
		name     string
		hostname func() (string, error)
		want     string // regexp
	}{
		{"plain", fixedHost("box"), `^box-[0-9a-f]{6}$`},
		{"fqdn keeps short name", fixedHost("web1.example.com"), `^web1-[0-9a-f]{6}$`},
		{"odd chars replaced", fixedHost("my box*1"), `^my-box-1-[0-9a-f]{6}$`},
		{"error", func() (string, error) { return "", errors.New("no") }, `^hub-[0-9a-f]{6}$`},
		{"empty", fixedHost(""), `^hub-[0-9a-f]{6}$`},
		{"long truncated", fixedHost(strings.Repeat("a", 100)), `^a{57}-[0-9a-f]{6}$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := load(nil, env(nil), tt.hostname)
			if err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(tt.want).MatchString(c.NodeID) {
				t.Errorf("got %q, want match %s", c.NodeID, tt.want)
			}
		})
	}
	a, b := defaultNodeID(fixedHost("x")), defaultNodeID(fixedHost("x"))
	if a == b {
		t.Errorf("two default node IDs are equal: %q", a)
	}
}

func TestFromEnv(t *testing.T) {
	secret := strings.Repeat("s", 32)
	tests := []struct {
		env   string
		value string
		get   func(Config) any
		want  any
	}{
		{"HUB_ADDR", ":9000", func(c Config) any { return c.Addr }, ":9000"},
		{"HUB_DATA_DIR", "/var/lib/hub", func(c Config) any { return c.DataDir }, "/var/lib/hub"},
		{"HUB_DATABASE_URL", "postgres://u:p@db/hub", func(c Config) any { return c.DatabaseURL }, "postgres://u:p@db/hub"},
		{"HUB_DATABASE_URL", "postgresql://db/hub", func(c Config) any { return c.DatabaseURL }, "postgresql://db/hub"},
		{"HUB_NATS_URL", "nats://a:4222, nats://b:4222", func(c Config) any { return c.NATSURL }, "nats://a:4222,nats://b:4222"},
		{"HUB_REDIS_URL", "redis://127.0.0.1:6379/0", func(c Config) any { return c.RedisURL }, "redis://127.0.0.1:6379/0"},
		{"HUB_JWT_SECRET", secret, func(c Config) any { return c.JWTSecret.Value() }, secret},
		{"HUB_JWT_SECRET", " " + secret + " ", func(c Config) any { return c.JWTSecret.Value() }, " " + secret + " "},
		{"HUB_PUBLIC_URL", "HTTPS://Chat.Example.com/", func(c Config) any { return c.PublicURL }, "https://chat.example.com"},
		{"HUB_PUBLIC_URL", "https://example.com/chat/", func(c Config) any { return c.PublicURL }, "https://example.com/chat"},
		{"HUB_ALLOWED_ORIGINS", "https://a.example, http://b.example:8080,,https://a.example:443", func(c Config) any { return strings.Join(c.ExtraOrigins, " ") }, "https://a.example http://b.example:8080"},
		{"HUB_BOOTSTRAP_ADMIN", "root:pa:ss", func(c Config) any { return c.BootstrapAdmin.Name + "|" + c.BootstrapAdmin.Password.Value() }, "root|pa:ss"},
		{"HUB_AI_BASE_URL", "http://127.0.0.1:11434/v1", func(c Config) any { return c.AIBaseURL }, "http://127.0.0.1:11434/v1"},
		{"HUB_AI_API_KEY", "sk-123", func(c Config) any { return c.AIAPIKey.Value() }, "sk-123"},
		{"HUB_AI_MODEL", "llama3", func(c Config) any { return c.AIModel }, "llama3"},
		{"HUB_SFU", "nats", func(c Config) any { return c.SFU }, SFUNATS},
		{"HUB_SFU", "NATS", func(c Config) any { return c.SFU }, SFUNATS},
		{"HUB_NODE_ID", "node_1-a", func(c Config) any { return c.NodeID }, "node_1-a"},
		{"HUB_NATS_SUBJECT_PREFIX", "prod.eu-1", func(c Config) any { return c.NATSSubjectPrefix }, "prod.eu-1"},
		{"HUB_LOG_LEVEL", "debug", func(c Config) any { return c.LogLevel }, slog.LevelDebug},
		{"HUB_LOG_LEVEL", "WARN", func(c Config) any { return c.LogLevel }, slog.LevelWarn},
		{"HUB_LOG_LEVEL", "error", func(c Config) any { return c.LogLevel }, slog.LevelError},
		{"HUB_LOG_FORMAT", "json", func(c Config) any { return c.LogFormat }, LogJSON},
		{"HUB_MAX_MESSAGE_CHARS", "100", func(c Config) any { return c.MaxMessageChars }, 100},
		{"HUB_MAX_FRAME_BYTES", "20000", func(c Config) any { return c.MaxFrameBytes }, 20000},
		{"HUB_SEND_RATE", "5/1m", func(c Config) any { return c.SendRate }, Rate{5, time.Minute}},
		{"HUB_SEND_RATE", "3/s", func(c Config) any { return c.SendRate }, Rate{3, time.Second}},
		{"HUB_MAX_JOINED_ROOMS", "7", func(c Config) any { return c.MaxJoinedRooms }, 7},
		{"HUB_OUTBOUND_QUEUE", "64", func(c Config) any { return c.OutboundQueue }, 64},
		{"HUB_PING_INTERVAL", "1m", func(c Config) any { return c.PingInterval }, time.Minute},
		{"HUB_PONG_TIMEOUT", "3s", func(c Config) any { return c.PongTimeout }, 3 * time.Second},
		{"HUB_WRITE_TIMEOUT", "500ms", func(c Config) any { return c.WriteTimeout }, 500 * time.Millisecond},
		{"HUB_AUTH_TIMEOUT", "2s", func(c Config) any { return c.AuthTimeout }, 2 * time.Second},
		{"HUB_SHUTDOWN_TIMEOUT", "1m30s", func(c Config) any { return c.ShutdownTimeout }, 90 * time.Second},
		{"HUB_TOKEN_TTL", "1h", func(c Config) any { return c.TokenTTL }, time.Hour},
		{"HUB_BOT_TOKEN_TTL", "720h", func(c Config) any { return c.BotTokenTTL }, 720 * time.Hour},
		{"HUB_BCRYPT_COST", "10", func(c Config) any { return c.BcryptCost }, 10},
		{"HUB_BCRYPT_COST", "16", func(c Config) any { return c.BcryptCost }, 16},
		{"HUB_REPAIR_INTERVAL", "250ms", func(c Config) any { return c.RepairInterval }, 250 * time.Millisecond},
		{"HUB_ADDR", "  10.0.0.1:80  ", func(c Config) any { return c.Addr }, "10.0.0.1:80"},
		{"HUB_WEBHOOK_POLL_INTERVAL", "50ms", func(c Config) any { return c.WebhookPollInterval }, 50 * time.Millisecond},
		{"HUB_WEBHOOK_RETRY_BASE", "100ms", func(c Config) any { return c.WebhookRetryBase }, 100 * time.Millisecond},
		{"HUB_WEBHOOK_RETRY_CAP", "1h", func(c Config) any { return c.WebhookRetryCap }, time.Hour},
		{"HUB_WEBHOOK_GIVE_UP", "1h", func(c Config) any { return c.WebhookGiveUp }, time.Hour},
		{"HUB_WEBHOOK_GIVE_UP", "72h", func(c Config) any { return c.WebhookGiveUp }, 72 * time.Hour},
		{"HUB_WEBHOOK_TIMEOUT", "3s", func(c Config) any { return c.WebhookTimeout }, 3 * time.Second},
		{"HUB_WEBHOOK_WORKERS", "32", func(c Config) any { return c.WebhookWorkers }, 32},
		{"HUB_SFU_UDP_PORT", "3478", func(c Config) any { return c.SFUNetwork.UDPPort }, 3478},
		{"HUB_SFU_UDP_PORT_MIN", "50000", func(c Config) any { return c.SFUNetwork.UDPPortMin }, uint16(50000)},
		{"HUB_SFU_UDP_PORT_MAX", "50100", func(c Config) any { return c.SFUNetwork.UDPPortMax }, uint16(50100)},
		{"HUB_SFU_PUBLIC_IP", " 203.0.113.7, 2001:DB8::1 ,203.0.113.7", func(c Config) any { return strings.Join(c.SFUNetwork.PublicIPs, " ") }, "203.0.113.7 2001:db8::1"},
		{"HUB_SFU_TCP_PORT", "8443", func(c Config) any { return c.SFUNetwork.TCPPort }, 8443},
		{"HUB_SFU_LOOPBACK", "true", func(c Config) any { return c.SFUNetwork.Loopback }, true},
		{"HUB_SFU_LOOPBACK", "1", func(c Config) any { return c.SFUNetwork.Loopback }, true},
		{"HUB_SFU_LOOPBACK", "false", func(c Config) any { return c.SFUNetwork.Loopback }, false},
		{"HUB_SFU_MAX_TRACKS", "1", func(c Config) any { return c.SFUNetwork.MaxTracks }, 1},
		{"HUB_STUN_URLS", "stun:stun.example.com:3478, STUNS:stun.example.com", func(c Config) any { return strings.Join(c.STUNURLs, " ") }, "stun:stun.example.com:3478 stuns:stun.example.com"},
		{"HUB_TURN_URLS", "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349?transport=tcp", func(c Config) any { return strings.Join(c.TURNURLs, " ") }, "turn:turn.example.com:3478?transport=udp turns:turn.example.com:5349?transport=tcp"},
		{"HUB_TURN_SECRET", " s3cret ", func(c Config) any { return c.TURNSecret.Value() }, " s3cret "},
		{"HUB_TURN_TTL", "1m", func(c Config) any { return c.TURNTTL }, time.Minute},
		{"HUB_CALL_MAX_PARTICIPANTS", "2", func(c Config) any { return c.CallMaxParticipants }, 2},
		{"HUB_CALL_MAX_PARTICIPANTS", "1000", func(c Config) any { return c.CallMaxParticipants }, 1000},
		{"HUB_CALL_RING_TIMEOUT", "45s", func(c Config) any { return c.CallRingTimeout }, 45 * time.Second},
	}
	// Some settings are only valid with a partner; give it.
	partner := map[string]map[string]string{
		"HUB_SFU":              {"HUB_NATS_URL": "nats://127.0.0.1:4222"},
		"HUB_SFU_UDP_PORT_MIN": {"HUB_SFU_UDP_PORT_MAX": "65535"},
		"HUB_SFU_UDP_PORT_MAX": {"HUB_SFU_UDP_PORT_MIN": "1"},
		"HUB_TURN_URLS":        {"HUB_TURN_SECRET": "s"},
		"HUB_TURN_SECRET":      {"HUB_TURN_URLS": "turn:t.example"},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			m := map[string]string{tt.env: tt.value}
			for k, v := range partner[tt.env] {
				m[k] = v
			}
			c := mustLoad(t, nil, m)
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDerivedPublicURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"localhost:9000", "http://localhost:9000"},
		{":8080", "http://localhost:8080"},
		{"0.0.0.0:8080", "http://localhost:8080"},
		{"[::]:8080", "http://localhost:8080"},
		{"[::1]:8080", "http://[::1]:8080"},
		{"hub.internal:80", "http://hub.internal:80"},
	}
	for _, tt := range tests {
		c := mustLoad(t, nil, map[string]string{"HUB_ADDR": tt.addr})
		if c.PublicURL != tt.want {
			t.Errorf("HUB_ADDR=%s: PublicURL got %q, want %q", tt.addr, c.PublicURL, tt.want)
		}
	}
	// A flag-given address feeds the derived default too.
	c := mustLoad(t, []string{"-addr", "127.0.0.1:7000"}, map[string]string{"HUB_ADDR": "127.0.0.1:1"})
	if c.PublicURL != "http://127.0.0.1:7000" {
		t.Errorf("PublicURL got %q, want http://127.0.0.1:7000", c.PublicURL)
	}
}

func TestFlagsOverrideEnv(t *testing.T) {
	environ := map[string]string{
		"HUB_ADDR":            "127.0.0.1:1111",
		"HUB_LOG_LEVEL":       "error",
		"HUB_SEND_RATE":       "1/1s",
		"HUB_PUBLIC_URL":      "https://env.example",
		"HUB_JWT_SECRET":      strings.Repeat("e", 40),
		"HUB_BCRYPT_COST":     "13",
		"HUB_ALLOWED_ORIGINS": "https://env.example",
	}
	tests := []struct {
		name string
		args []string
		get  func(Config) any
		want any
	}{
		{"env when no flag", nil, func(c Config) any { return c.Addr }, "127.0.0.1:1111"},
		{"flag space form", []string{"-addr", "127.0.0.1:2222"}, func(c Config) any { return c.Addr }, "127.0.0.1:2222"},
		{"flag = form", []string{"--log-level=debug"}, func(c Config) any { return c.LogLevel }, slog.LevelDebug},
		{"rate", []string{"-send-rate=9/3s"}, func(c Config) any { return c.SendRate }, Rate{9, 3 * time.Second}},
		{"secret", []string{"-jwt-secret", strings.Repeat("f", 33)}, func(c Config) any { return c.JWTSecret.Value() }, strings.Repeat("f", 33)},
		{"int", []string{"-bcrypt-cost", "14"}, func(c Config) any { return c.BcryptCost }, 14},
		{"empty flag restores default", []string{"-public-url="}, func(c Config) any { return c.PublicURL }, "http://127.0.0.1:1111"},
		{"empty flag clears extra origins", []string{"-allowed-origins", ""}, func(c Config) any { return len(c.ExtraOrigins) }, 0},
		{"last flag wins", []string{"-bcrypt-cost", "11", "-bcrypt-cost", "15"}, func(c Config) any { return c.BcryptCost }, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.args, environ)
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEveryVariableHasAFlag(t *testing.T) {
	fs := newFlagSet("hub", settings())
	seen := map[string]bool{}
	for _, s := range settings() {
		if !strings.HasPrefix(s.env, "HUB_") {
			t.Errorf("%s: not a HUB_ variable", s.env)
		}
		if seen[s.env] {
			t.Errorf("%s: listed twice", s.env)
		}
		seen[s.env] = true
		if fs.Lookup(flagName(s.env)) == nil {
			t.Errorf("%s: no flag -%s", s.env, flagName(s.env))
		}
		if !strings.Contains(Usage(), "-"+flagName(s.env)+", "+s.env) {
			t.Errorf("%s: missing from Usage", s.env)
		}
	}
	for _, want := range []string{
		"HUB_ADDR", "HUB_DATA_DIR", "HUB_DATABASE_URL", "HUB_NATS_URL", "HUB_REDIS_URL",
		"HUB_JWT_SECRET", "HUB_PUBLIC_URL", "HUB_ALLOWED_ORIGINS", "HUB_BOOTSTRAP_ADMIN",
		"HUB_AI_BASE_URL", "HUB_AI_API_KEY", "HUB_AI_MODEL", "HUB_SFU",
		"HUB_NODE_ID", "HUB_NATS_SUBJECT_PREFIX", "HUB_LOG_LEVEL", "HUB_LOG_FORMAT",
		"HUB_MAX_MESSAGE_CHARS", "HUB_MAX_FRAME_BYTES", "HUB_SEND_RATE", "HUB_MAX_JOINED_ROOMS",
		"HUB_OUTBOUND_QUEUE", "HUB_PING_INTERVAL", "HUB_PONG_TIMEOUT", "HUB_WRITE_TIMEOUT",
		"HUB_AUTH_TIMEOUT", "HUB_SHUTDOWN_TIMEOUT", "HUB_TOKEN_TTL", "HUB_BOT_TOKEN_TTL",
		"HUB_BCRYPT_COST", "HUB_REPAIR_INTERVAL",
		"HUB_SFU_UDP_PORT", "HUB_SFU_UDP_PORT_MIN", "HUB_SFU_UDP_PORT_MAX", "HUB_SFU_PUBLIC_IP",
		"HUB_SFU_TCP_PORT", "HUB_SFU_LOOPBACK", "HUB_SFU_MAX_TRACKS", "HUB_STUN_URLS", "HUB_TURN_URLS",
		"HUB_TURN_SECRET", "HUB_TURN_TTL", "HUB_CALL_MAX_PARTICIPANTS", "HUB_CALL_RING_TIMEOUT",
	} {
		if !seen[want] {
			t.Errorf("%s: not a setting", want)
		}
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		env, value string
		want       string // the whole error line from the environment
	}{
		{"HUB_ADDR", "8080", `config: HUB_ADDR: "8080" is not host:port`},
		{"HUB_ADDR", "127.0.0.1:http", `config: HUB_ADDR: port "http" is not a number in 0..65535`},
		{"HUB_ADDR", "127.0.0.1:70000", `config: HUB_ADDR: port "70000" is not a number in 0..65535`},
		{"HUB_DATABASE_URL", "mysql://u:hunter2@db/x", `config: HUB_DATABASE_URL: scheme must be postgres, postgresql (got "mysql")`},
		{"HUB_DATABASE_URL", "host=db user=hunter2", `config: HUB_DATABASE_URL: not a URL (want postgres://…)`},
		{"HUB_NATS_URL", "http://a:4222", `config: HUB_NATS_URL: scheme must be nats, tls, ws or wss (got "http")`},
		{"HUB_NATS_URL", "localhost", `config: HUB_NATS_URL: "localhost" is not a URL (want nats://host:port)`},
		{"HUB_NATS_URL", "nats://a:99999", `config: HUB_NATS_URL: port "99999" is not a number in 0..65535`},
		{"HUB_REDIS_URL", "memcache://x", `config: HUB_REDIS_URL: scheme must be redis, rediss, unix (got "memcache")`},
		{"HUB_JWT_SECRET", "short", `config: HUB_JWT_SECRET: must be at least 32 bytes (got 5)`},
		{"HUB_JWT_SECRET", strings.Repeat("x", 31), `config: HUB_JWT_SECRET: must be at least 32 bytes (got 31)`},
		{"HUB_PUBLIC_URL", "example.com", `config: HUB_PUBLIC_URL: "example.com" is not an absolute URL`},
		{"HUB_PUBLIC_URL", "ftp://example.com", `config: HUB_PUBLIC_URL: scheme must be http or https (got "ftp")`},
		{"HUB_PUBLIC_URL", "http://", `config: HUB_PUBLIC_URL: "http://" has no host`},
		{"HUB_PUBLIC_URL", "http://u:p@example.com", `config: HUB_PUBLIC_URL: must not contain user info`},
		{"HUB_PUBLIC_URL", "http://example.com/?a=1", `config: HUB_PUBLIC_URL: must not have a query or fragment`},
		{"HUB_PUBLIC_URL", "http://example.com:x", `config: HUB_PUBLIC_URL: "http://example.com:x" is not an absolute URL`},
		{"HUB_ALLOWED_ORIGINS", "https://ok.example,example.com", `config: HUB_ALLOWED_ORIGINS: "example.com" is not an origin (want scheme://host[:port])`},
		{"HUB_ALLOWED_ORIGINS", "https://a.example/path", `config: HUB_ALLOWED_ORIGINS: "https://a.example/path" is not an origin (want scheme://host[:port])`},
		{"HUB_ALLOWED_ORIGINS", "*", `config: HUB_ALLOWED_ORIGINS: "*" is not an origin (want scheme://host[:port])`},
		{"HUB_ALLOWED_ORIGINS", "ws://a.example", `config: HUB_ALLOWED_ORIGINS: origin "ws://a.example": scheme must be http or https`},
		{"HUB_ALLOWED_ORIGINS", "http://a.example:99999", `config: HUB_ALLOWED_ORIGINS: origin "http://a.example:99999": port must be a number in 0..65535`},
		{"HUB_BOOTSTRAP_ADMIN", "rootonly", `config: HUB_BOOTSTRAP_ADMIN: must be name:password`},
		{"HUB_BOOTSTRAP_ADMIN", ":secretpw", `config: HUB_BOOTSTRAP_ADMIN: name before ':' is empty`},
		{"HUB_BOOTSTRAP_ADMIN", "root:", `config: HUB_BOOTSTRAP_ADMIN: password after ':' is empty`},
		{"HUB_AI_BASE_URL", "localhost:11434", `config: HUB_AI_BASE_URL: "localhost:11434" is not an absolute URL`},
		{"HUB_AI_BASE_URL", "ftp://x/v1", `config: HUB_AI_BASE_URL: scheme must be http or https (got "ftp")`},
		{"HUB_SFU", "pion", `config: HUB_SFU: must be embedded or nats (got "pion")`},
		{"HUB_NODE_ID", "node.1", `config: HUB_NODE_ID: "node.1" may only hold letters, digits, '-' and '_'`},
		{"HUB_NODE_ID", "a*", `config: HUB_NODE_ID: "a*" may only hold letters, digits, '-' and '_'`},
		{"HUB_NODE_ID", strings.Repeat("n", 65), `config: HUB_NODE_ID: must be at most 64 characters (got 65)`},
		{"HUB_NATS_SUBJECT_PREFIX", "hub.>", `config: HUB_NATS_SUBJECT_PREFIX: "hub.>" must be dot-separated tokens of letters, digits, '-' and '_'`},
		{"HUB_NATS_SUBJECT_PREFIX", "hub..x", `config: HUB_NATS_SUBJECT_PREFIX: "hub..x" must be dot-separated tokens of letters, digits, '-' and '_'`},
		{"HUB_LOG_LEVEL", "verbose", `config: HUB_LOG_LEVEL: must be debug, info, warn or error (got "verbose")`},
		{"HUB_LOG_FORMAT", "xml", `config: HUB_LOG_FORMAT: must be text or json (got "xml")`},
		{"HUB_MAX_MESSAGE_CHARS", "lots", `config: HUB_MAX_MESSAGE_CHARS: "lots" is not a whole number`},
		{"HUB_MAX_MESSAGE_CHARS", "0", `config: HUB_MAX_MESSAGE_CHARS: must be in 1..1048576 (got 0)`},
		{"HUB_MAX_MESSAGE_CHARS", "20000", `config: HUB_MAX_FRAME_BYTES: must be at least 4×HUB_MAX_MESSAGE_CHARS+1024 = 81024 so a longest message fits in a frame (got 65536)`},
		{"HUB_MAX_FRAME_BYTES", "512", `config: HUB_MAX_FRAME_BYTES: must be in 1024..67108864 (got 512)`},
		{"HUB_MAX_FRAME_BYTES", "2048", `config: HUB_MAX_FRAME_BYTES: must be at least 4×HUB_MAX_MESSAGE_CHARS+1024 = 17024 so a longest message fits in a frame (got 2048)`},
		{"HUB_SEND_RATE", "20", `config: HUB_SEND_RATE: "20" is not count/duration (like 20/10s)`},
		{"HUB_SEND_RATE", "x/10s", `config: HUB_SEND_RATE: "x/10s" is not count/duration (like 20/10s)`},
		{"HUB_SEND_RATE", "20/ten", `config: HUB_SEND_RATE: "20/ten" is not count/duration (like 20/10s)`},
		{"HUB_SEND_RATE", "0/10s", `config: HUB_SEND_RATE: count must be at least 1 (got 0)`},
		{"HUB_SEND_RATE", "5/0s", `config: HUB_SEND_RATE: duration must be positive (got 0s)`},
		{"HUB_SEND_RATE", "5/-1s", `config: HUB_SEND_RATE: duration must be positive (got -1s)`},
		{"HUB_MAX_JOINED_ROOMS", "-1", `config: HUB_MAX_JOINED_ROOMS: must be in 1..1048576 (got -1)`},
		{"HUB_OUTBOUND_QUEUE", "0", `config: HUB_OUTBOUND_QUEUE: must be in 1..1048576 (got 0)`},
		{"HUB_PING_INTERVAL", "25", `config: HUB_PING_INTERVAL: "25" is not a duration (like 10s, 5m, 24h)`},
		{"HUB_PONG_TIMEOUT", "0s", `config: HUB_PONG_TIMEOUT: must be positive (got 0s)`},
		{"HUB_WRITE_TIMEOUT", "-5s", `config: HUB_WRITE_TIMEOUT: must be positive (got -5s)`},
		{"HUB_AUTH_TIMEOUT", "soon", `config: HUB_AUTH_TIMEOUT: "soon" is not a duration (like 10s, 5m, 24h)`},
		{"HUB_SHUTDOWN_TIMEOUT", "0", `config: HUB_SHUTDOWN_TIMEOUT: must be positive (got 0)`},
		{"HUB_TOKEN_TTL", "1d", `config: HUB_TOKEN_TTL: "1d" is not a duration (like 10s, 5m, 24h)`},
		{"HUB_BOT_TOKEN_TTL", "-1h", `config: HUB_BOT_TOKEN_TTL: must be positive (got -1h)`},
		{"HUB_BCRYPT_COST", "9", `config: HUB_BCRYPT_COST: must be in 10..16 (got 9)`},
		{"HUB_BCRYPT_COST", "17", `config: HUB_BCRYPT_COST: must be in 10..16 (got 17)`},
		{"HUB_BCRYPT_COST", "twelve", `config: HUB_BCRYPT_COST: "twelve" is not a whole number`},
		{"HUB_REPAIR_INTERVAL", "0ms", `config: HUB_REPAIR_INTERVAL: must be positive (got 0ms)`},
		{"HUB_WEBHOOK_POLL_INTERVAL", "0s", `config: HUB_WEBHOOK_POLL_INTERVAL: must be positive (got 0s)`},
		{"HUB_WEBHOOK_RETRY_BASE", "soon", `config: HUB_WEBHOOK_RETRY_BASE: "soon" is not a duration (like 10s, 5m, 24h)`},
		{"HUB_WEBHOOK_RETRY_BASE", "20m", `config: HUB_WEBHOOK_RETRY_CAP: must be at least HUB_WEBHOOK_RETRY_BASE = 20m0s (got 10m0s)`},
		{"HUB_WEBHOOK_RETRY_CAP", "1s", `config: HUB_WEBHOOK_RETRY_CAP: must be at least HUB_WEBHOOK_RETRY_BASE = 5s (got 1s)`},
		{"HUB_WEBHOOK_GIVE_UP", "59m", `config: HUB_WEBHOOK_GIVE_UP: must be at least 1h0m0s, since deliveries are retried for at least an hour (got 59m)`},
		{"HUB_WEBHOOK_GIVE_UP", "-1h", `config: HUB_WEBHOOK_GIVE_UP: must be positive (got -1h)`},
		{"HUB_WEBHOOK_TIMEOUT", "10", `config: HUB_WEBHOOK_TIMEOUT: "10" is not a duration (like 10s, 5m, 24h)`},
		{"HUB_WEBHOOK_WORKERS", "0", `config: HUB_WEBHOOK_WORKERS: must be in 1..1024 (got 0)`},
		{"HUB_SFU_UDP_PORT", "-1", `config: HUB_SFU_UDP_PORT: must be in 0..65535 (got -1)`},
		{"HUB_SFU_UDP_PORT", "65536", `config: HUB_SFU_UDP_PORT: must be in 0..65535 (got 65536)`},
		{"HUB_SFU_UDP_PORT", "udp", `config: HUB_SFU_UDP_PORT: "udp" is not a whole number`},
		{"HUB_SFU_UDP_PORT_MIN", "-1", `config: HUB_SFU_UDP_PORT_MIN: must be in 0..65535 (got -1)`},
		{"HUB_SFU_UDP_PORT_MAX", "70000", `config: HUB_SFU_UDP_PORT_MAX: must be in 0..65535 (got 70000)`},
		{"HUB_SFU_PUBLIC_IP", "203.0.113.7,host.example", `config: HUB_SFU_PUBLIC_IP: "host.example" is not an IP address`},
		{"HUB_SFU_PUBLIC_IP", "203.0.113.300", `config: HUB_SFU_PUBLIC_IP: "203.0.113.300" is not an IP address`},
		{"HUB_SFU_TCP_PORT", "99999", `config: HUB_SFU_TCP_PORT: must be in 0..65535 (got 99999)`},
		{"HUB_SFU_LOOPBACK", "yes", `config: HUB_SFU_LOOPBACK: must be true or false (got "yes")`},
		{"HUB_SFU_MAX_TRACKS", "0", `config: HUB_SFU_MAX_TRACKS: must be in 1..64 (got 0)`},
		{"HUB_STUN_URLS", "stun.example.com:3478", `config: HUB_STUN_URLS: "stun.example.com:3478" must start with stun: or stuns:`},
		{"HUB_STUN_URLS", "turn:t.example", `config: HUB_STUN_URLS: "turn:t.example" must start with stun: or stuns:`},
		{"HUB_STUN_URLS", "stun:", `config: HUB_STUN_URLS: "stun:" is not a stun URI (want stun:host[:port])`},
		{"HUB_TURN_URLS", "stun:s.example", `config: HUB_TURN_URLS: "stun:s.example" must start with turn: or turns:`},
		{"HUB_TURN_URLS", "turn://t.example", `config: HUB_TURN_URLS: "turn://t.example" is not a turn URI (want turn:host[:port])`},
		{"HUB_TURN_TTL", "30s", `config: HUB_TURN_TTL: must be at least 1m0s (got 30s)`},
		{"HUB_TURN_TTL", "long", `config: HUB_TURN_TTL: "long" is not a duration (like 10s, 5m, 24h)`},
		{"HUB_CALL_MAX_PARTICIPANTS", "1", `config: HUB_CALL_MAX_PARTICIPANTS: must be in 2..1000 (got 1)`},
		{"HUB_CALL_MAX_PARTICIPANTS", "1001", `config: HUB_CALL_MAX_PARTICIPANTS: must be in 2..1000 (got 1001)`},
		{"HUB_CALL_RING_TIMEOUT", "0s", `config: HUB_CALL_RING_TIMEOUT: must be positive (got 0s)`},
	}
	secrets := []string{"hunter2", "secretpw", "short"}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			_, err := load(nil, env(map[string]string{tt.env: tt.value}), fixedHost("h"))
			if err == nil {
				t.Fatal("got nil error")
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			checkOneLine(t, err, secrets)
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Errorf("got %T %v, want *Error wrapping ErrInvalid", err, err)
			}

			// The same value given as a flag names the flag too.
			fl := flagName(tt.env)
			if tt.env == "HUB_MAX_MESSAGE_CHARS" && tt.value == "20000" {
				return // a cross-setting check names no single flag
			}
			if tt.env == "HUB_WEBHOOK_RETRY_BASE" && tt.value == "20m" {
				return // nor does this one
			}
			_, err = load([]string{"-" + fl + "=" + tt.value}, env(nil), fixedHost("h"))
			wantFlag := strings.Replace(tt.want, tt.env+":", tt.env+" (flag -"+fl+"):", 1)
			if tt.env == "HUB_MAX_FRAME_BYTES" && strings.Contains(tt.want, "4×") {
				wantFlag = tt.want
			}
			if tt.env == "HUB_WEBHOOK_RETRY_CAP" && strings.Contains(tt.want, "RETRY_BASE =") {
				wantFlag = tt.want // the cross-setting check names the variable only
			}
			if err == nil || err.Error() != wantFlag {
				t.Errorf("as flag: got  %v\nwant %s", err, wantFlag)
			}
		})
	}
}

func checkOneLine(t *testing.T, err error, secrets []string) {
	t.Helper()
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Errorf("error is not one line: %q", err)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q leaks %q", err, s)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    string
		wantIs  error
		oneLine bool
	}{
		{"unknown flag", []string{"-nope"}, "config: flag provided but not defined: -nope", nil, true},
		{"missing value", []string{"-addr"}, "config: flag needs an argument: -addr", nil, true},
		{"positional", []string{"serve"}, `config: unexpected argument "serve"`, nil, true},
		{"help", []string{"-h"}, "config: flag: help requested", flag.ErrHelp, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(tt.args, env(nil), fixedHost("h"))
			if err == nil {
				t.Fatal("got nil error")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %q, want prefix %q", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("got %v, want it to wrap %v", err, tt.wantIs)
			}
			if tt.oneLine {
				checkOneLine(t, err, nil)
			}
		})
	}
	_, err := load([]string{"-help"}, env(nil), fixedHost("h"))
	if !strings.Contains(err.Error(), "-jwt-secret, HUB_JWT_SECRET") {
		t.Errorf("help text lacks the flag list: %q", err)
	}
}

func TestNoSecretsPrinted(t *testing.T) {
	const (
		jwt    = "jwt-0123456789abcdef0123456789abcdef"
		apiKey = "sk-apikey-zzz"
		adminP = "adminpw-yyy"
		dbPW   = "dbpw-xxx"
		rdPW   = "redispw-www"
		natsPW = "natspw-vvv"
		natsTk = "natstoken-uuu"
	)
	c := mustLoad(t, nil, map[string]string{
		"HUB_JWT_SECRET":      jwt,
		"HUB_AI_API_KEY":      apiKey,
		"HUB_BOOTSTRAP_ADMIN": "root:" + adminP,
		"HUB_DATABASE_URL":    "postgres://hub:" + dbPW + "@db:5432/hub",
		"HUB_REDIS_URL":       "redis://:" + rdPW + "@127.0.0.1:6379",
		"HUB_NATS_URL":        "nats://u:" + natsPW + "@a:4222,nats://" + natsTk + "@b:4222",
	})
	var js, txt bytes.Buffer
	slog.New(slog.NewJSONHandler(&js, nil)).Info("cfg", "config", c)
	slog.New(slog.NewTextHandler(&txt, nil)).Info("cfg", "config", c, "secret", c.JWTSecret)
	outputs := map[string]string{
		"String":   c.String(),
		"%v":       fmt.Sprintf("%v", c),
		"%+v":      fmt.Sprintf("%+v", c),
		"%#v":      fmt.Sprintf("%#v", c),
		"%s field": fmt.Sprintf("%s %v %q %#v", c.JWTSecret, c.AIAPIKey, c.BootstrapAdmin.Password, c.JWTSecret),
		"admin":    fmt.Sprintf("%v %+v", c.BootstrapAdmin, c.BootstrapAdmin),
		"json":     js.String(),
		"text":     txt.String(),
	}
	for name, out := range outputs {
		for _, s := range []string{jwt, apiKey, adminP, dbPW, rdPW, natsPW, natsTk} {
			if strings.Contains(out, s) {
				t.Errorf("%s output leaks %q: %s", name, s, out)
			}
		}
	}
	for _, want := range []string{"root:[redacted]", "postgres://hub:xxxxx@db:5432/hub", "jwt_secret=\"[redacted]\""} {
		if !strings.Contains(c.String(), want) {
			t.Errorf("String lacks %q: %s", want, c.String())
		}
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("empty Secret prints %q, want empty", got)
	}
}

func TestAllowedOriginsAndHosts(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantOrigin []string
		wantHosts  []string
	}{
		{
			name:       "default has 127.0.0.1 and localhost twin",
			wantOrigin: []string{"http://127.0.0.1:8080", "http://localhost:8080"},
			wantHosts:  []string{"127.0.0.1:8080", "localhost:8080"},
		},
		{
			name:       "localhost public URL",
			env:        map[string]string{"HUB_PUBLIC_URL": "http://LOCALHOST:3000/app"},
			wantOrigin: []string{"http://localhost:3000", "http://127.0.0.1:3000"},
			wantHosts:  []string{"localhost:3000", "127.0.0.1:3000"},
		},
		{
			name:       "public https host, default port dropped, extras",
			env:        map[string]string{"HUB_PUBLIC_URL": "https://chat.example.com:443", "HUB_ALLOWED_ORIGINS": "https://app.example.com, http://dev.example.com:8000, https://chat.example.com"},
			wantOrigin: []string{"https://chat.example.com", "https://app.example.com", "http://dev.example.com:8000"},
			wantHosts:  []string{"chat.example.com", "chat.example.com:443", "app.example.com", "app.example.com:443", "dev.example.com:8000"},
		},
		{
			name:       "http on 80",
			env:        map[string]string{"HUB_PUBLIC_URL": "http://hub.lan"},
			wantOrigin: []string{"http://hub.lan"},
			wantHosts:  []string{"hub.lan", "hub.lan:80"},
		},
		{
			name:       "ipv6",
			env:        map[string]string{"HUB_ADDR": "[::1]:8080"},
			wantOrigin: []string{"http://[::1]:8080"},
			wantHosts:  []string{"[::1]:8080"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, nil, tt.env)
			if got := c.AllowedOrigins(); !slices.Equal(got, tt.wantOrigin) {
				t.Errorf("AllowedOrigins: got %q, want %q", got, tt.wantOrigin)
			}
			if got := c.AllowedHosts(); !slices.Equal(got, tt.wantHosts) {
				t.Errorf("AllowedHosts: got %q, want %q", got, tt.wantHosts)
			}
		})
	}

	c := mustLoad(t, nil, map[string]string{"HUB_PUBLIC_URL": "https://chat.example.com", "HUB_ALLOWED_ORIGINS": "http://localhost:5173"})
	checks := []struct {
		origin string
		want   bool
	}{
		{"https://chat.example.com", true},
		{"HTTPS://Chat.Example.COM:443", true},
		{"http://localhost:5173", true},
		{"http://127.0.0.1:5173", false}, // twins only for the public URL
		{"http://chat.example.com", false},
		{"https://evil.example.com", false},
		{"null", false},
		{"", false},
	}
	for _, ch := range checks {
		if got := c.OriginAllowed(ch.origin); got != ch.want {
			t.Errorf("OriginAllowed(%q): got %v, want %v", ch.origin, got, ch.want)
		}
	}
	hosts := []struct {
		host string
		want bool
	}{
		{"chat.example.com", true},
		{"Chat.Example.com:443", true},
		{"localhost:5173", true},
		{"evil.example.com", false},
		{"chat.example.com:8443", false},
	}
	for _, h := range hosts {
		if got := c.HostAllowed(h.host); got != h.want {
			t.Errorf("HostAllowed(%q): got %v, want %v", h.host, got, h.want)
		}
	}
}

func TestLogger(t *testing.T) {
	tests := []struct {
		env       map[string]string
		wantJSON  bool
		wantDebug bool
	}{
		{nil, false, false},
		{map[string]string{"HUB_LOG_FORMAT": "json", "HUB_LOG_LEVEL": "debug"}, true, true},
		{map[string]string{"HUB_LOG_LEVEL": "warn"}, false, false},
	}
	for _, tt := range tests {
		c := mustLoad(t, nil, tt.env)
		var b bytes.Buffer
		log := c.Logger(&b)
		log.Debug("dbg")
		log.Error("boom")
		out := b.String()
		if got := strings.HasPrefix(out, "{"); got != tt.wantJSON {
			t.Errorf("%v: JSON got %v, want %v: %s", tt.env, got, tt.wantJSON, out)
		}
		if got := strings.Contains(out, "dbg"); got != tt.wantDebug {
			t.Errorf("%v: debug shown got %v, want %v", tt.env, got, tt.wantDebug)
		}
		if !strings.Contains(out, "boom") {
			t.Errorf("%v: error not logged: %s", tt.env, out)
		}
	}
}

// TestCrossSettingChecks covers the rules between settings; their errors
// name the variable to fix.
func TestCrossSettingChecks(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // "" = valid
	}{
		{"sfu nats without NATS", map[string]string{"HUB_SFU": "nats"},
			`config: HUB_SFU: nats needs HUB_NATS_URL: the hubs and the cmd/sfu nodes must share an external NATS server`},
		{"sfu nats with NATS", map[string]string{"HUB_SFU": "nats", "HUB_NATS_URL": "nats://n:4222"}, ""},
		{"udp min alone", map[string]string{"HUB_SFU_UDP_PORT_MIN": "50000"},
			`config: HUB_SFU_UDP_PORT_MAX: must be set with HUB_SFU_UDP_PORT_MIN`},
		{"udp max alone", map[string]string{"HUB_SFU_UDP_PORT_MAX": "50000"},
			`config: HUB_SFU_UDP_PORT_MIN: must be set with HUB_SFU_UDP_PORT_MAX`},
		{"udp min above max", map[string]string{"HUB_SFU_UDP_PORT_MIN": "50100", "HUB_SFU_UDP_PORT_MAX": "50000"},
			`config: HUB_SFU_UDP_PORT_MAX: must be at least HUB_SFU_UDP_PORT_MIN = 50100 (got 50000)`},
		{"udp range zero is unset", map[string]string{"HUB_SFU_UDP_PORT_MIN": "0", "HUB_SFU_UDP_PORT_MAX": "0"}, ""},
		{"udp range of one", map[string]string{"HUB_SFU_UDP_PORT_MIN": "50000", "HUB_SFU_UDP_PORT_MAX": "50000"}, ""},
		{"udp port and range", map[string]string{"HUB_SFU_UDP_PORT": "3478", "HUB_SFU_UDP_PORT_MIN": "50000", "HUB_SFU_UDP_PORT_MAX": "50100"},
			`config: HUB_SFU_UDP_PORT: is one shared port; leave HUB_SFU_UDP_PORT_MIN/MAX unset with it (got 3478 and 50000..50100)`},
		{"turn urls without secret", map[string]string{"HUB_TURN_URLS": "turn:t.example"},
			`config: HUB_TURN_SECRET: must be set when HUB_TURN_URLS is: TURN credentials are derived from it`},
		{"turn secret without urls", map[string]string{"HUB_TURN_SECRET": "hunter2"},
			`config: HUB_TURN_URLS: must be set when HUB_TURN_SECRET is`},
		{"stun alone", map[string]string{"HUB_STUN_URLS": "stun:s.example"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(nil, env(tt.env), fixedHost("h"))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil error, want %s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			checkOneLine(t, err, []string{"hunter2"})
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v, want it to wrap ErrInvalid", err)
			}
		})
	}
}

func TestTURNSecretNotPrinted(t *testing.T) {
	const secret = "turn-secret-ttt"
	c := mustLoad(t, nil, map[string]string{"HUB_TURN_URLS": "turn:t.example", "HUB_TURN_SECRET": secret})
	var js bytes.Buffer
	slog.New(slog.NewJSONHandler(&js, nil)).Info("cfg", "config", c)
	for name, out := range map[string]string{"String": c.String(), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "json": js.String()} {
		if strings.Contains(out, secret) {
			t.Errorf("%s output leaks the TURN secret: %s", name, out)
		}
	}
	if !strings.Contains(c.String(), `turn_secret="[redacted]"`) || !strings.Contains(c.String(), `turn_urls="turn:t.example"`) {
		t.Errorf("String lacks the TURN settings: %s", c.String())
	}
}
