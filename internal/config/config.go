package config

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// SFU modes (HUB_SFU).
const (
	SFUEmbedded = "embedded"
	SFUNATS     = "nats"
)

// Log formats (HUB_LOG_FORMAT).
const (
	LogText = "text"
	LogJSON = "json"
)

// Config is the hub's whole configuration. Load fills every field; a zero
// string field means "not configured" where PROTOCOL §1 gives that meaning.
type Config struct {
	Addr        string // HUB_ADDR: listen address, host:port
	DataDir     string // HUB_DATA_DIR
	DatabaseURL string // HUB_DATABASE_URL: postgres://…; empty = embedded store
	NATSURL     string // HUB_NATS_URL: comma-separated; empty = in-process NATS
	RedisURL    string // HUB_REDIS_URL: redis://…; empty = in-process presence/limits
	JWTSecret   Secret // HUB_JWT_SECRET: ≥ 32 bytes; empty = generated in DataDir

	// PublicURL is HUB_PUBLIC_URL, normalized: lower-case scheme and host, no
	// trailing slash. Default "http://" + Addr (an unspecified listen host
	// such as ":8080" or "0.0.0.0:8080" becomes localhost).
	PublicURL string
	// ExtraOrigins are the HUB_ALLOWED_ORIGINS, normalized to
	// scheme://host[:port] with default ports dropped.
	ExtraOrigins []string
	// BootstrapAdmin is HUB_BOOTSTRAP_ADMIN; zero when not set.
	BootstrapAdmin Admin

	AIBaseURL string // HUB_AI_BASE_URL; empty = the offline assistant
	AIAPIKey  Secret // HUB_AI_API_KEY
	AIModel   string // HUB_AI_MODEL
	SFU       string // HUB_SFU: SFUEmbedded or SFUNATS; SFUNATS needs NATSURL

	// SFUNetwork is the embedded SFU's network (HUB_SFU_*); with SFUNATS
	// the cmd/sfu nodes read their own.
	SFUNetwork SFUNetwork

	STUNURLs   []string      // HUB_STUN_URLS: stun:/stuns: URLs handed to clients in call_join
	TURNURLs   []string      // HUB_TURN_URLS: turn:/turns: URLs handed to clients in call_join
	TURNSecret Secret        // HUB_TURN_SECRET: coturn's static-auth-secret; set iff TURNURLs are
	TURNTTL    time.Duration // HUB_TURN_TTL: lifetime of the TURN credentials given out

	CallMaxParticipants int           // HUB_CALL_MAX_PARTICIPANTS: 2..1000
	CallRingTimeout     time.Duration // HUB_CALL_RING_TIMEOUT: a one-on-one call unanswered this long ends

	NodeID            string     // HUB_NODE_ID: this hub's name on the bus
	NATSSubjectPrefix string     // HUB_NATS_SUBJECT_PREFIX
	LogLevel          slog.Level // HUB_LOG_LEVEL
	LogFormat         string     // HUB_LOG_FORMAT: LogText or LogJSON

	MaxMessageChars int  // HUB_MAX_MESSAGE_CHARS: characters (runes) per message
	MaxFrameBytes   int  // HUB_MAX_FRAME_BYTES: bytes per WebSocket frame
	SendRate        Rate // HUB_SEND_RATE: sends allowed per user
	MaxJoinedRooms  int  // HUB_MAX_JOINED_ROOMS: per connection
	OutboundQueue   int  // HUB_OUTBOUND_QUEUE: events queued per connection

	PingInterval    time.Duration // HUB_PING_INTERVAL
	PongTimeout     time.Duration // HUB_PONG_TIMEOUT
	WriteTimeout    time.Duration // HUB_WRITE_TIMEOUT
	AuthTimeout     time.Duration // HUB_AUTH_TIMEOUT
	ShutdownTimeout time.Duration // HUB_SHUTDOWN_TIMEOUT
	TokenTTL        time.Duration // HUB_TOKEN_TTL
	BotTokenTTL     time.Duration // HUB_BOT_TOKEN_TTL
	BcryptCost      int           // HUB_BCRYPT_COST: 10..16
	RepairInterval  time.Duration // HUB_REPAIR_INTERVAL: last_seq check period
	DebugAddr       string        // HUB_DEBUG_ADDR: pprof listener; empty = off
	WriteCoalesce   time.Duration // HUB_WRITE_COALESCE: least time between writes to one socket

	WebhookPollInterval time.Duration // HUB_WEBHOOK_POLL_INTERVAL
	WebhookRetryBase    time.Duration // HUB_WEBHOOK_RETRY_BASE: wait after the first failure
	WebhookRetryCap     time.Duration // HUB_WEBHOOK_RETRY_CAP: ≥ WebhookRetryBase
	WebhookGiveUp       time.Duration // HUB_WEBHOOK_GIVE_UP: ≥ 1h
	WebhookTimeout      time.Duration // HUB_WEBHOOK_TIMEOUT: one POST
	WebhookWorkers      int           // HUB_WEBHOOK_WORKERS: deliveries in flight per hub
}

// Admin is the account HUB_BOOTSTRAP_ADMIN asks for.
type Admin struct {
	Name     string
	Password Secret
}

// IsSet reports whether a bootstrap admin was configured.
func (a Admin) IsSet() bool { return a.Name != "" }

// Rate is "Count events per Per", as in HUB_SEND_RATE=20/10s.
type Rate struct {
	Count int
	Per   time.Duration
}

func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.Count, r.Per) }

// Load reads the configuration from args (the command line without the
// program name) and getenv (os.Getenv, or a map lookup in tests). A flag wins
// over the variable, which wins over the default.
func Load(args []string, getenv func(string) string) (Config, error) {
	return load(args, getenv, os.Hostname)
}

func load(args []string, getenv func(string) string, hostname func() (string, error)) (Config, error) {
	var c Config
	if err := apply(&c, "hub", settings(), Usage, args, getenv, loadEnv{hostname: hostname}); err != nil {
		return Config{}, err
	}
	if err := c.check(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// apply parses args against the flags of list, then sets each setting of
// list into c from its flag, variable, default or derived default, in
// order. usage is the help text shown for -h.
func apply[T any](c *T, name string, list []setting[T], usage func() string, args []string, getenv func(string) string, env loadEnv) error {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	fs := newFlagSet(name, list)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return fmt.Errorf("config: %w\n%s", flag.ErrHelp, usage())
		}
		return fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("config: unexpected argument %q (every setting is a -flag or HUB_* variable)", fs.Arg(0))
	}
	fromFlag := map[string]string{}
	fs.Visit(func(f *flag.Flag) { fromFlag[f.Name] = f.Value.String() })

	for _, s := range list {
		name := flagName(s.env)
		v, flagged := fromFlag[name]
		if !flagged {
			v = getenv(s.env)
		}
		if !s.secret {
			v = strings.TrimSpace(v)
		}
		if v == "" {
			v = s.def
		}
		if v == "" && s.derive != nil {
			v = s.derive(c, env)
		}
		if err := s.set(c, v); err != nil {
			e := &Error{Var: s.env, Err: err}
			if flagged {
				e.Flag = name
			}
			return e
		}
	}
	return nil
}

// check validates rules that span more than one setting.
func (c Config) check() error {
	// A message of MaxMessageChars characters must fit in one frame: up to 4
	// bytes per character in UTF-8, plus room for the command around it.
	if minFrame := 4*c.MaxMessageChars + 1024; c.MaxFrameBytes < minFrame {
		return &Error{Var: "HUB_MAX_FRAME_BYTES", Err: invalid(
			"must be at least 4×HUB_MAX_MESSAGE_CHARS+1024 = %d so a longest message fits in a frame (got %d)",
			minFrame, c.MaxFrameBytes)}
	}
	if c.SFU == SFUNATS && c.NATSURL == "" {
		return &Error{Var: "HUB_SFU", Err: invalid(
			"nats needs HUB_NATS_URL: the hubs and the cmd/sfu nodes must share an external NATS server")}
	}
	if err := c.SFUNetwork.check(); err != nil {
		return err
	}
	if len(c.TURNURLs) > 0 && !c.TURNSecret.IsSet() {
		return &Error{Var: "HUB_TURN_SECRET", Err: invalid("must be set when HUB_TURN_URLS is: TURN credentials are derived from it")}
	}
	if len(c.TURNURLs) == 0 && c.TURNSecret.IsSet() {
		return &Error{Var: "HUB_TURN_URLS", Err: invalid("must be set when HUB_TURN_SECRET is")}
	}
	if c.WebhookRetryCap < c.WebhookRetryBase {
		return &Error{Var: "HUB_WEBHOOK_RETRY_CAP", Err: invalid(
			"must be at least HUB_WEBHOOK_RETRY_BASE = %s (got %s)", c.WebhookRetryBase, c.WebhookRetryCap)}
	}
	return nil
}

// loadEnv is what derived defaults may consult.
type loadEnv struct {
	hostname func() (string, error)
}

func newFlagSet[T any](name string, list []setting[T]) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range list {
		fs.String(flagName(s.env), "", s.env+": "+s.usage)
	}
	return fs
}

// flagName maps HUB_FOO_BAR to foo-bar.
func flagName(env string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "HUB_")), "_", "-")
}

// Usage is the help text listing every flag and variable with its default.
func Usage() string { return usageOf("hub", settings()) }

func usageOf[T any](name string, list []setting[T]) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Usage: %s [flags]\n\nEvery flag can also be given as the environment variable named with it;\na flag wins over the variable. Empty means the default.\n\n", name)
	for _, s := range list {
		def := s.def
		if def == "" && s.defDoc != "" {
			def = s.defDoc
		}
		fmt.Fprintf(&b, "  -%s, %s\n    \t%s", flagName(s.env), s.env, s.usage)
		if def != "" {
			fmt.Fprintf(&b, " (default %s)", def)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// defaultNodeID is the hostname made token-safe, a dash, and 6 random hex
// characters, so two hubs on one host still differ.
func defaultNodeID(hostname func() (string, error)) string {
	host, err := hostname()
	host, _, _ = strings.Cut(host, ".") // the short name
	if err != nil || host == "" {
		host = "hub"
	}
	b := []byte(host)
	for i, ch := range b {
		if !nodeIDChar(rune(ch)) {
			b[i] = '-'
		}
	}
	if len(b) > maxNodeIDLen-7 {
		b = b[:maxNodeIDLen-7]
	}
	var r [3]byte
	_, _ = rand.Read(r[:])
	return string(b) + "-" + hex.EncodeToString(r[:])
}
