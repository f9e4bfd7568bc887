// Package config turns command-line flags and HUB_* environment variables
// into one validated Config.
//
// # What it owns
//
// The list of every HUB_* setting (vars.go): its flag name, default, meaning
// and validation, and the helpers derived from them (the effective browser
// Origin and Host allow-lists, the logger). It knows nothing about the
// backends the settings choose; internal/server reads Config and decides.
//
// # Entry points
//
//	cfg, err := config.Load(os.Args[1:], os.Getenv)
//	if errors.Is(err, flag.ErrHelp) { fmt.Println(err); os.Exit(0) }
//	if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(2) }
//	log := cfg.Logger(os.Stderr)
//	log.Info("starting", "config", cfg) // secrets never printed
//
// A standalone SFU node (cmd/sfu) reads its own, smaller set with
//
//	cfg, err := config.LoadSFU(os.Args[1:], os.Getenv) // SFUConfig
//
// which shares HUB_NATS_URL (required there), HUB_NATS_SUBJECT_PREFIX,
// HUB_NODE_ID, HUB_LOG_* and the HUB_SFU_* network settings (one SFUNetwork
// type, parsed by the same code as the hub's embedded SFU) and adds
// HUB_SFU_ADDR, its HTTP listener.
//
// Every variable HUB_FOO_BAR has the flag -foo-bar. Precedence: a flag given
// on the command line (even as an empty string) wins over the environment,
// which wins over the default. An empty value means "not set": the default
// applies. Values are trimmed of surrounding spaces, except the secrets
// (HUB_JWT_SECRET, HUB_AI_API_KEY, HUB_BOOTSTRAP_ADMIN, HUB_TURN_SECRET), which are used as
// they are.
//
// A bad value makes Load return an *Error whose text is one line naming the
// variable (and the flag, when the value came from one), for example
//
//	config: HUB_JWT_SECRET: must be at least 32 bytes (got 5)
//
// Secret values (Secret, and passwords inside URLs) never appear in errors,
// in String, or in the slog value of a Config.
//
// # Concurrency contract
//
// Load has no side effects beyond reading the hostname and random bytes for
// the default node ID. A Config is a plain value; it is safe to share once
// loaded, as long as nobody mutates its slices.
package config
