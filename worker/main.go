// Command worker turns face photos into 3D faces.
//
//	worker reconstruct [flags] -o OUTDIR IMAGE...   local, one process, files on disk
//	worker bench [flags]                            throughput figures, FP16 vs FP32
//	worker run [flags]                              fleet mode: JetStream consumer
//
// Run `worker <command> -h` for the flags of a command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "worker:", err)
		}
		os.Exit(1)
	}
}

// errUsage reports a command line that was already explained on stderr.
var errUsage = errors.New("usage")

const usage = `usage: worker <command> [flags]

commands:
  reconstruct  reconstruct faces from image files into a directory
  bench        measure model and pipeline throughput (FP32 and FP16)
  run          run as a fleet worker (JetStream, S3, Redis)
`

// run dispatches a subcommand. The logger writes text to stderr at the level
// of $FACEFLEET_LOG_LEVEL (debug|info|warn|error; default info) for the local
// commands; fleet mode configures its own from its config.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(envOr("FACEFLEET_LOG_LEVEL", "info"))); err != nil {
		return fmt.Errorf("FACEFLEET_LOG_LEVEL: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	switch cmd, rest := args[0], args[1:]; cmd {
	case "reconstruct":
		return reconstruct(ctx, rest, stdout, stderr, log)
	case "bench":
		return bench(ctx, rest, stdout, stderr, log)
	case "run":
		return runFleet(ctx, rest, stdout, stderr, log)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "worker: unknown command %q\n%s", cmd, usage)
		return errUsage
	}
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && strings.TrimSpace(v) != "" {
		return v
	}
	return def
}
