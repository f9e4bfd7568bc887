package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain is main with its inputs and outputs passed in; it returns the
// exit status: 0 done, 1 set-up or run failed, 2 bad flags.
func realMain(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: -cpuprofile: %v\n", err)
			return 2
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	res, err := run(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return 1
	}
	writeText(stdout, res)
	if cfg.json {
		if err := writeJSON(stdout, res); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return 1
		}
	}
	return 0
}

// run performs the scenario cfg names.
func run(ctx context.Context, cfg config, log *slog.Logger) (*Result, error) {
	if err := raiseNoFile(cfg.totalConns(), log); err != nil {
		return nil, err
	}
	e := newEnv(cfg, log)
	log.Info("starting", "scenario", cfg.scenario, "hubs", cfg.hubs, "conns", cfg.totalConns(), "run", e.runID)
	switch cfg.scenario {
	case scenarioFanout:
		return runTraffic(ctx, e, fanoutPlan(cfg))
	case scenarioRooms:
		return runTraffic(ctx, e, roomsPlan(cfg))
	default:
		return runIdle(ctx, e)
	}
}
