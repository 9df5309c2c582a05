package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/backend"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/storage"
	"github.com/facefleet/facefleet/shared/webhook"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/fleet"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// runFleet runs `worker run`: one fleet.Worker per device in this process,
// each with its own engine (warmed up before the worker is ready), all
// consuming the JetStream job queue until ctx is cancelled; then a
// two-phase shutdown (drain up to --drain-timeout, then cancel and Nak).
// Health and metrics are served on --http-addr.
func runFleet(ctx context.Context, args []string, stdout, stderr io.Writer, _ *slog.Logger) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fl := config.RegisterWorker(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: worker run [flags]   (every flag also reads FACEFLEET_<NAME> and --config YAML)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "worker run: unexpected arguments %q\n", fs.Args())
		return errUsage
	}
	cfg, err := fl.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	log := cfg.Log.Logger(stderr)
	devices, err := fleet.ParseDevices(cfg.Devices, cfg.GPUProvider, fleet.CUDADiscovery{
		LookupEnv:     os.LookupEnv,
		NvidiaSMIList: func() ([]byte, error) { return exec.CommandContext(ctx, "nvidia-smi", "-L").Output() },
	})
	if err != nil {
		return err
	}
	return serveFleet(ctx, cfg, devices, log)
}

// setGCPercent applies config.Worker.GCPercent unless a GOGC environment
// variable already set the target.
func setGCPercent(percent int, log *slog.Logger) {
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Info("GOGC is set; gc_percent not applied", slog.String("GOGC", v))
		return
	}
	debug.SetGCPercent(percent)
}

// enginePart names the readiness part of the health endpoint.
func enginePart(d engine.Device) string { return "engine:" + d.String() }

const natsPart = "nats"

// serveFleet connects to NATS, Redis and S3, opens one engine per device
// and runs the workers until ctx ends.
// The fleet workers add the worker and device attributes to base.
func serveFleet(ctx context.Context, cfg config.Worker, devices []engine.Device, base *slog.Logger) error {
	log := base.With(slog.String("worker", cfg.WorkerName))
	setGCPercent(cfg.GCPercent, log)
	parts := []string{natsPart}
	for _, d := range devices {
		parts = append(parts, enginePart(d))
	}
	health := fleet.NewHealth(parts...)
	metrics := fleet.NewMetrics()
	for _, d := range devices {
		metrics.GPUMemory.WithLabelValues(d.String()).Set(0)
	}

	// Health first: /healthz answers while the engines warm up.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{Handler: health.Handler(metrics), ReadHeaderTimeout: 5 * time.Second}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-srvDone
	}()
	log.Info("health and metrics listening", slog.String("addr", ln.Addr().String()))

	conns, err := backend.Open(ctx, backend.Config{NATS: cfg.NATS, Redis: cfg.Redis, S3: cfg.S3}, backend.Options{
		Name: "facefleet-worker " + cfg.WorkerName,
		NATSOptions: []nats.Option{
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				health.Set(natsPart, false)
				log.Warn("nats disconnected", slog.Any("error", err))
			}),
			nats.ReconnectHandler(func(*nats.Conn) {
				health.Set(natsPart, true)
				log.Info("nats reconnected")
			}),
		},
	})
	if err != nil {
		return err
	}
	defer conns.Close()
	js, qcfg, q, st, store := conns.JS, conns.QueueConfig, conns.Queue, conns.Status, conns.Store
	health.Set(natsPart, conns.NC.IsConnected())

	outbox, dispatcher, err := webhooks(ctx, cfg, js, qcfg, store, metrics, base)
	if err != nil {
		return err
	}

	// One engine (ORT session set, warmed up by engine.New) per device.
	var workers []*fleet.Worker
	for _, d := range devices {
		prec, err := engine.ResolvePrecision(cfg.Precision, d)
		if err != nil {
			return err
		}
		eng, err := engine.New(engine.Config{LibraryPath: cfg.ORTLib, Device: d, Precision: prec,
			IntraOpThreads: cfg.IntraOpThreads, Logger: log})
		if err != nil {
			return fmt.Errorf("engine on %s: %w", d, err)
		}
		defer eng.Close()
		f, err := q.Fetcher(ctx)
		if err != nil {
			return err
		}
		w, err := fleet.New(fleet.Config{
			Name: cfg.WorkerName, Device: d.String(), Slots: cfg.SlotsPerDevice,
			JobTimeout: cfg.JobTimeout, DrainTimeout: cfg.DrainTimeout, AckWait: cfg.AckWait,
			MaxDeliver: cfg.MaxDeliver, MaxImageBytes: cfg.MaxImageBytes, Bucket: cfg.S3Bucket,
		}, fleet.Deps{
			Fetcher: f, Queue: q, Status: st, Images: store, Notifier: outbox, Metrics: metrics, Logger: base,
			Processor: pipeline.New(eng, imagedecode.Limits{MaxBytes: cfg.MaxImageBytes, MaxPixels: cfg.MaxImagePixels}, log),
		})
		if err != nil {
			return err
		}
		workers = append(workers, w)
		health.Set(enginePart(d), true)
	}

	log.Info("worker ready", slog.Int("devices", len(devices)), slog.Int("slots_per_device", cfg.SlotsPerDevice))
	// Webhooks go out until the workers have drained, so the events of
	// their last jobs are sent too (the rest wait in the stream).
	hookCtx, stopHooks := context.WithCancel(context.WithoutCancel(ctx))
	hooksDone := make(chan error, 1)
	go func() { hooksDone <- dispatcher.Run(hookCtx) }()
	var wg sync.WaitGroup
	errs := make([]error, len(workers))
	for i, w := range workers {
		wg.Go(func() { errs[i] = w.Run(ctx) })
	}
	wg.Wait()
	stopHooks()
	err = <-hooksDone
	// Webhook events of the last jobs are stored before the connection closes.
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Second):
		log.Warn("webhook events not confirmed by JetStream before shutdown", slog.Int("pending", js.PublishAsyncPending()))
	}
	return errors.Join(append(errs, err)...)
}

// webhooks builds the outbox the workers notify and the dispatcher that
// sends what it holds (retry delays: fleet.Backoff from 5s doubling to 1h,
// ±20% jitter, for cfg.WebhookRetryFor).
func webhooks(ctx context.Context, cfg config.Worker, js jetstream.JetStream, qcfg queue.Config,
	store *storage.Store, metrics *fleet.Metrics, log *slog.Logger) (*webhook.Outbox, *webhook.Dispatcher, error) {
	secrets, err := cfg.LoadWebhookSecrets()
	if err != nil {
		return nil, nil, err
	}
	policy, err := cfg.WebhookPolicy()
	if err != nil {
		return nil, nil, err
	}
	d, err := webhook.NewDispatcher(ctx, js, qcfg, webhook.DispatcherConfig{
		Secrets: secrets, Policy: policy, RetryFor: cfg.WebhookRetryFor, Timeout: cfg.WebhookTimeout,
		Retry: func(attempt int) time.Duration {
			return fleet.Backoff(attempt, 5*time.Second, time.Hour, 0.2, rand.Float64)
		},
		Observe: metrics.ObserveWebhook,
		Logger:  log.With(slog.String("component", "webhooks")),
	})
	if err != nil {
		return nil, nil, err
	}
	if len(secrets) == 0 {
		log.Warn("no webhook secrets configured (webhook_secrets): jobs' webhooks will be dropped")
	}
	return webhook.NewOutbox(js, qcfg, store, log), d, nil
}
