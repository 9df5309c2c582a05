// Command s3gw runs the embedded versitygw S3 gateway over a directory as its
// own process. Tests use it (through devservers.SharedS3) because versitygw's
// POSIX backend changes the process working directory.
//
//	S3GW_ACCESS_KEY=k S3GW_SECRET_KEY=s s3gw -dir DIR -addr 127.0.0.1:9000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/facefleet/facefleet/shared/devservers"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "s3gw:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dir := flag.String("dir", "", "data directory (required)")
	addr := flag.String("addr", "127.0.0.1:9000", "listen address")
	flag.Parse()
	if *dir == "" {
		return fmt.Errorf("-dir is required")
	}
	srv, err := devservers.StartS3(ctx, *dir, *addr, os.Getenv("S3GW_ACCESS_KEY"), os.Getenv("S3GW_SECRET_KEY"))
	if err != nil {
		return err
	}
	fmt.Println("ready", srv.Endpoint)
	select {
	case <-ctx.Done():
		srv.Stop()
		return nil
	case <-srv.Done():
		return srv.Err()
	}
}
