package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/backend"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
)

// cmdProvision creates the bucket, the job stream, its per-priority worker
// consumers and the dead-letter stream. Idempotent: compose's init service
// and the chart's post-install hook run it on every start/upgrade.
func cmdProvision(ctx context.Context, args []string, stdout, stderr io.Writer, env config.LookupEnv) error {
	cmd := newCommand("provision", stderr, env)
	if err := cmd.parseNoArgs(args); err != nil {
		return err
	}
	cfg, err := cmd.load()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	qcfg, err := backend.Provision(ctx, backend.Config{NATS: cfg.NATS, Redis: cfg.Redis, S3: cfg.S3}, "facefleet-provision")
	if err != nil {
		return err
	}
	var consumers []string
	for _, p := range job.Priorities() {
		consumers = append(consumers, queue.ConsumerName(p))
	}
	fmt.Fprintf(stdout, "provisioned: stream %s (replicas %d) with consumers %s, dead letters %s, bucket %s\n",
		cfg.NATSStream, cfg.NATSReplicas, strings.Join(consumers, ","), qcfg.WithDefaults().DeadLetterStream, cfg.S3Bucket)
	return nil
}

// cmdHealthcheck asks the local API's /healthz and fails unless it answers
// 200. It is the container HEALTHCHECK of the distroless producer image,
// which has no curl.
func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer, env config.LookupEnv) error {
	cmd := newCommand("healthcheck", stderr, env)
	if err := cmd.parseNoArgs(args); err != nil {
		return err
	}
	cfg, err := cmd.load()
	if err != nil {
		return err
	}
	url := "http://" + localAddr(cfg.HTTPAddr) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s", url, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// localAddr turns a listen address (":8080", "0.0.0.0:8080", "[::]:8080")
// into one this host can dial.
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
