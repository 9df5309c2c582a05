// Command localstack runs facefleet on one machine with real servers:
// embedded NATS JetStream, an embedded versitygw S3 gateway, a redis-server
// process, the producer API and the workers as child processes.
//
//	localstack up    [flags]   run in the foreground until Ctrl-C; state in .data/
//	localstack demo  [flags]   start, submit the sample photos, download the results, stop
//	localstack bench [flags]   start, push N photos through the fleet, compare with worker bench
//	localstack chaos [flags]   the fleet as separate processes, SIGKILLed and restarted under load; checks nothing is lost
//
// Run `localstack <command> -h` for the flags of a command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "localstack:", err)
		}
		os.Exit(1)
	}
}

// errUsage reports a command line that was already explained on stderr.
var errUsage = errors.New("usage")

const usage = `usage: localstack <command> [flags]

commands:
  up     run NATS, S3, Redis, the producer API and workers in the foreground (Ctrl-C stops)
  demo   start the stack, submit the sample photos, save the results under out/demo, stop
  bench  start the stack, push N photos through the fleet, compare with the in-process pipeline
  chaos  run the fleet as processes, SIGKILL and restart workers and servers under load, check every job
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch cmd, rest := args[0], args[1:]; cmd {
	case "up":
		return up(ctx, rest, stdout, stderr, log)
	case "demo":
		return demo(ctx, rest, stdout, stderr, log)
	case "bench":
		return bench(ctx, rest, stdout, stderr, log)
	case "chaos":
		return chaos(ctx, rest, stdout, stderr, log)
	case "nats-node": // a process of chaos's fleet
		return natsNode(ctx, rest, stderr)
	case "s3-node": // a process of chaos's fleet
		return s3Node(ctx, rest, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "localstack: unknown command %q\n%s", cmd, usage)
		return errUsage
	}
}
