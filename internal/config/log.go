package config

import (
	"io"
	"log/slog"
	"strings"
)

// Logger builds the hub's logger writing to w, in LogFormat at LogLevel.
func (c Config) Logger(w io.Writer) *slog.Logger { return newLogger(w, c.LogLevel, c.LogFormat) }

func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// LogValue renders the configuration for slog with every secret redacted:
// Secret fields show "[redacted]" when set, URLs lose their passwords, and
// the bootstrap admin shows its name only.
func (c Config) LogValue() slog.Value {
	admin := ""
	if c.BootstrapAdmin.IsSet() {
		admin = c.BootstrapAdmin.Name + ":" + redacted
	}
	attrs := []slog.Attr{
		slog.String("addr", c.Addr),
		slog.String("data_dir", c.DataDir),
		slog.String("database_url", redactURLList(c.DatabaseURL)),
		slog.String("nats_url", redactURLList(c.NATSURL)),
		slog.String("redis_url", redactURLList(c.RedisURL)),
		slog.String("jwt_secret", c.JWTSecret.String()),
		slog.String("public_url", c.PublicURL),
		slog.String("allowed_origins", strings.Join(c.AllowedOrigins(), ",")),
		slog.String("bootstrap_admin", admin),
		slog.String("ai_base_url", redactURLList(c.AIBaseURL)),
		slog.String("ai_api_key", c.AIAPIKey.String()),
		slog.String("ai_model", c.AIModel),
		slog.String("sfu", c.SFU),
	}
	attrs = append(attrs, c.SFUNetwork.logAttrs()...)
	attrs = append(attrs,
		slog.String("stun_urls", strings.Join(c.STUNURLs, ",")),
		slog.String("turn_urls", strings.Join(c.TURNURLs, ",")),
		slog.String("turn_secret", c.TURNSecret.String()),
		slog.Duration("turn_ttl", c.TURNTTL),
		slog.Int("call_max_participants", c.CallMaxParticipants),
		slog.Duration("call_ring_timeout", c.CallRingTimeout),
		slog.String("node_id", c.NodeID),
		slog.String("nats_subject_prefix", c.NATSSubjectPrefix),
		slog.String("log_level", strings.ToLower(c.LogLevel.String())),
		slog.String("log_format", c.LogFormat),
		slog.Int("max_message_chars", c.MaxMessageChars),
		slog.Int("max_frame_bytes", c.MaxFrameBytes),
		slog.String("send_rate", c.SendRate.String()),
		slog.Int("max_joined_rooms", c.MaxJoinedRooms),
		slog.Int("outbound_queue", c.OutboundQueue),
		slog.Duration("ping_interval", c.PingInterval),
		slog.Duration("pong_timeout", c.PongTimeout),
		slog.Duration("write_timeout", c.WriteTimeout),
		slog.Duration("auth_timeout", c.AuthTimeout),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("token_ttl", c.TokenTTL),
		slog.Duration("bot_token_ttl", c.BotTokenTTL),
		slog.Int("bcrypt_cost", c.BcryptCost),
		slog.Duration("repair_interval", c.RepairInterval),
	)
	return slog.GroupValue(attrs...)
}

// String is LogValue as space-separated key=value pairs, also secret-free.
func (c Config) String() string { return attrsString(c.LogValue()) }

// GoString keeps %#v as secret-free as %v.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }
