// Command producer submits face photos to facefleet and follows the jobs,
// and serves the HTTP API.
//
//	producer submit IMAGE... [--geometry] [--uv-size N] [--detector short|full]
//	                         [--max-faces N] [--priority high|normal|low] [--wait] [--json]
//	producer status ID [--json]
//	producer watch ID [--json]
//	producer cancel ID [--json]
//	producer serve
//
// Every subcommand also takes the configuration flags (--config FILE,
// --nats-url, --redis-addr, --s3-endpoint, --tenant, …; see `producer help`),
// which override FACEFLEET_* environment variables. The defaults point at the
// local stack.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}
