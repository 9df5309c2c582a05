package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// stackFlags are the flags every command shares.
type stackFlags struct {
	opts Options
}

func (f *stackFlags) register(fs *flag.FlagSet, dataDefault string) {
	o := &f.opts
	fs.StringVar(&o.DataDir, "data", dataDefault, "directory of the durable state (nats/, s3/, redis/)")
	fs.StringVar(&o.BinDir, "bin", "", "directory of the worker and producer binaries (default: next to localstack)")
	fs.StringVar(&o.Devices, "devices", "cpu", "FACEFLEET_DEVICES of the workers: cpu | cuda:0,cuda:1 | all")
	fs.IntVar(&o.Workers, "workers", 1, "worker processes (worker i serves health on --worker-port+i)")
	fs.IntVar(&o.NATSPort, "nats-port", 4222, "NATS client port")
	fs.IntVar(&o.NATSMonitorPort, "nats-monitor-port", 8222, "NATS monitoring port")
	fs.IntVar(&o.S3Port, "s3-port", 9000, "S3 port")
	fs.IntVar(&o.RedisPort, "redis-port", 6379, "Redis port")
	fs.IntVar(&o.APIPort, "api-port", 8080, "producer HTTP API port")
	fs.IntVar(&o.WorkerPort, "worker-port", 8081, "first worker's health/metrics port")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", 2*time.Minute, "how long to wait for the producer and workers to be ready")
	fs.DurationVar(&o.StopTimeout, "stop-timeout", 90*time.Second, "how long to wait for each process after SIGTERM")
}

// oneShot prepares the options of a stack that lives for one command (demo,
// bench): the logger, the children's output (shown only when verbose) and,
// unless --data was given, a temporary data directory that cleanup removes.
// It resolves paths (setDefaults) before the S3 gateway changes the working
// directory, and returns the photo directory: images, or the samples.
func (f *stackFlags) oneShot(log *slog.Logger, stderr io.Writer, verbose bool, name, images string) (dir string, cleanup func(), err error) {
	cleanup = func() {}
	f.opts.Log = log
	if f.opts.Out = io.Discard; verbose {
		f.opts.Out = stderr
	}
	if f.opts.DataDir == "" {
		tmp, err := os.MkdirTemp("", "facefleet-"+name+"-*")
		if err != nil {
			return "", cleanup, err
		}
		cleanup = func() { os.RemoveAll(tmp) }
		f.opts.DataDir = tmp
	}
	if err := f.opts.setDefaults(); err != nil {
		return "", cleanup, err
	}
	if images == "" {
		images = sampleDir(f.opts.WorkDir, f.opts.BinDir)
	}
	return images, cleanup, nil
}

// parse parses args with fs, printing usage problems to its output.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return flag.ErrHelp
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		return errUsage
	}
	return nil
}

// up runs `localstack up`: the stack in the foreground until ctx ends (Ctrl-C)
// or a child exits on its own.
func up(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf stackFlags
	sf.register(fs, ".data")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	sf.opts.Out, sf.opts.Log = stderr, log
	start := time.Now()
	s, err := Start(ctx, sf.opts)
	if err != nil {
		return err
	}
	printBanner(stdout, s, time.Since(start))
	var runErr error
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "stopping: workers drain, then the servers stop …")
	case runErr = <-s.Exited():
		fmt.Fprintf(stdout, "stopping: %v\n", runErr)
	}
	stopErr := s.Stop()
	if stopErr == nil && runErr == nil {
		fmt.Fprintln(stdout, "stopped cleanly; state kept in", s.opts.DataDir)
	}
	return errors.Join(runErr, stopErr)
}

func printBanner(w io.Writer, s *Stack, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nfacefleet local stack ready in %s (state in %s)\n", took.Round(time.Millisecond), s.opts.DataDir)
	fmt.Fprintf(&b, "  producer API   %s   (API key %q, tenant local; Authorization: Bearer %s)\n", s.APIURL, s.opts.APIKey, s.opts.APIKey)
	fmt.Fprintf(&b, "  web console    %s/   (sign in with the API key)\n", s.APIURL)
	for i, u := range s.WorkerURLs {
		fmt.Fprintf(&b, "  worker %-7d %s/metrics  /readyz  (devices %s)\n", i, u, s.opts.Devices)
	}
	fmt.Fprintf(&b, "  NATS           %s   (monitoring http://%s)\n", s.NATSURL, hostPort(s.opts.NATSMonitorPort))
	fmt.Fprintf(&b, "  S3             http://%s   bucket %s, access key %s\n", s.S3Endpoint, s.Common.S3Bucket, s.Common.S3AccessKey)
	fmt.Fprintf(&b, "  Redis          %s\n", s.RedisAddr)
	if s.opts.NATSPort != 4222 || s.opts.S3Port != 9000 || s.opts.RedisPort != 6379 {
		fmt.Fprintf(&b, "  non-default ports: export %s\n", strings.Join(s.Env()[:3], " "))
	}
	fmt.Fprintf(&b, "try: bin/producer submit --wait --json PHOTO\n")
	fmt.Fprintf(&b, "     curl -H 'Authorization: Bearer %s' -F image=@PHOTO %s/v1/jobs\n", s.opts.APIKey, s.APIURL)
	fmt.Fprintf(&b, "Ctrl-C stops the stack.\n\n")
	fmt.Fprint(w, b.String())
}
