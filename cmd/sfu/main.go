// Command sfu runs a standalone SFU node for Pawfect Hub's video calls. It
// announces itself on NATS; hubs started with HUB_SFU=nats place calls on
// the least-loaded node and relay signaling to it. See docs/calls.md.
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
	cfg, err := config.LoadSFU(os.Args[1:], os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfu:", err)
		return 2
	}
	log := cfg.Logger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	node, err := server.NewSFUNode(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfu:", err)
		return 1
	}
	if err := node.Run(ctx); err != nil {
		log.Error("sfu stopped with an error", "err", err)
		return 1
	}
	return 0
}
