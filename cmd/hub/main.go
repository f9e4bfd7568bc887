// Command hub runs the Pawfect Hub chat server. With no configuration it
// serves everything on http://127.0.0.1:8080 on embedded backends; see
// README.md and docs/protocol.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pawfect/hub/internal/config"
	"github.com/pawfect/hub/internal/server"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := config.Load(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub:", err)
		return 2
	}
	log := cfg.Logger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hub:", err)
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		log.Error("hub stopped with an error", "err", err)
		return 1
	}
	return 0
}
