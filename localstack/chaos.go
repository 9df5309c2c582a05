package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/backend"
	"github.com/facefleet/facefleet/shared/devservers"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
)

// Fault kinds of `localstack chaos` (--faults).
var chaosFaults = []string{"worker", "nats", "redis", "s3", "producer"}

// chaosOptions are the flags of `localstack chaos`.
type chaosOptions struct {
	jobs, workers, natsNodes, concurrency, badEvery int
	maxDeliver                                      int
	redisMode, faults, dataDir, binDir, images      string
	duration, interval, down, settle, timeout       time.Duration
	verbose                                         bool
	seed                                            uint64
}

const chaosUsage = `usage: localstack chaos [flags]

Runs the fleet as separate processes (NATS: 1 or 3 nodes; Redis: single or
master + replica + 3 Sentinels; the S3 gateway; the producer API; N workers),
submits --jobs photos over the HTTP API spread over --duration while it
SIGKILLs and restarts one process of each --faults kind after another (every
kind at least once), then checks every accepted job: exactly one terminal
state (succeeded for valid photos, failed for the corrupt ones), result.json
and its files in S3, attempts recorded, a monotonic status history (from the
status events), nothing left in the queue. Prints counts, latency percentiles
and the faults' timings. Exit status 1 when any job was lost or regressed.

flags:
`

// chaos runs `localstack chaos`.
func chaos(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var o chaosOptions
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, chaosUsage); fs.PrintDefaults() }
	fs.IntVar(&o.jobs, "jobs", 200, "jobs to submit")
	fs.IntVar(&o.workers, "workers", 2, "worker processes")
	fs.IntVar(&o.natsNodes, "nats-nodes", 1, "NATS servers: 1, or 3 (a JetStream cluster, R3 stream)")
	fs.StringVar(&o.redisMode, "redis", "single", "Redis: single | sentinel (master + replica + 3 Sentinels, WAIT 1)")
	fs.StringVar(&o.faults, "faults", strings.Join(chaosFaults, ","), "kinds of process to SIGKILL and restart, comma-separated ('' = none)")
	fs.DurationVar(&o.duration, "duration", 60*time.Second, "submission window; faults are spread over it")
	fs.DurationVar(&o.interval, "interval", 0, "time between fault starts (0 = the window split so that every kind comes once)")
	fs.DurationVar(&o.down, "down", 2*time.Second, "how long a killed process stays down")
	fs.DurationVar(&o.settle, "settle", 5*time.Minute, "how long to wait for every job to finish after the window")
	fs.DurationVar(&o.timeout, "ready-timeout", 2*time.Minute, "how long to wait for a (re)started process")
	fs.IntVar(&o.concurrency, "concurrency", 4, "concurrent submitters")
	fs.IntVar(&o.maxDeliver, "max-deliver", 0, "FACEFLEET_MAX_DELIVER of the fleet, 0 = its default (a delivery that meets a downed server counts too)")
	fs.IntVar(&o.badEvery, "bad-every", 25, "every n-th job is a corrupt JPEG that must fail (0 = none)")
	fs.StringVar(&o.dataDir, "data", "", "state directory (default: a temporary one, removed after)")
	fs.StringVar(&o.binDir, "bin", "", "directory of the worker and producer binaries (default: next to localstack)")
	fs.StringVar(&o.images, "images", "", "directory of photos (default localstack/samples)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the fault order within each kind")
	fs.BoolVar(&o.verbose, "v", false, "show the processes' output")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	faults, err := parseFaults(o.faults)
	if err != nil {
		fmt.Fprintln(stderr, "localstack chaos:", err)
		return errUsage
	}
	if o.natsNodes != 1 && o.natsNodes != 3 {
		fmt.Fprintln(stderr, "localstack chaos: --nats-nodes must be 1 or 3")
		return errUsage
	}
	if o.redisMode != "single" && o.redisMode != "sentinel" {
		fmt.Fprintln(stderr, "localstack chaos: --redis must be single or sentinel")
		return errUsage
	}
	if o.jobs < 1 || o.workers < 1 || o.concurrency < 1 {
		fmt.Fprintln(stderr, "localstack chaos: --jobs, --workers and --concurrency must be ≥ 1")
		return errUsage
	}
	// A SIGTERM or Ctrl-C stops the run: the children are stopped on the way out.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	// go-redis's own notes (a master switch, a refused dial) go to the log
	// at debug level instead of stderr.
	redis.SetLogger(redisLog{log})
	f := &fleet{o: o, log: log, outMu: &sync.Mutex{}}
	f.out = io.Discard
	if o.verbose {
		f.out = stderr
	}
	if err := f.prepare(); err != nil {
		return err
	}
	defer f.cleanup()
	t0 := time.Now()
	if err := f.start(ctx); err != nil {
		f.stopAll()
		return err
	}
	fmt.Fprintf(stdout, "chaos: fleet up in %s: NATS %d node(s), Redis %s, S3, producer, %d workers; faults %v\n",
		time.Since(t0).Round(time.Millisecond), o.natsNodes, o.redisMode, o.workers, faults)
	res, err := f.run(ctx, faults)
	f.stopAll()
	if err != nil {
		return err
	}
	res.print(stdout)
	if res.bad() {
		return errors.New("chaos: jobs were lost or regressed (see above)")
	}
	return nil
}

// redisLog passes go-redis's log lines to slog at debug level.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

func parseFaults(s string) ([]string, error) {
	var out []string
	for k := range strings.SplitSeq(s, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		if !slices.Contains(chaosFaults, k) {
			return nil, fmt.Errorf("unknown fault %q (want some of %v)", k, chaosFaults)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// fleet is the chaos run's processes.
type fleet struct {
	o      chaosOptions
	log    *slog.Logger
	out    io.Writer
	outMu  *sync.Mutex
	self   string // the localstack executable (it runs the NATS nodes and S3)
	tmp    string
	ortLib string
	images []string

	natsPorts, natsMon, natsRoute []int
	natsURL                       string
	nats                          []*child
	s3Addr                        string
	s3                            *child
	redisPort                     int
	redis                         *devservers.RedisServer
	sentinel                      *devservers.RedisSentinelSet
	srvCtx                        context.Context
	srvStop                       context.CancelFunc
	apiPort                       int
	producer                      *child
	workerPorts                   []int
	workers                       []*child
	mu                            sync.Mutex // guards the *child fields while faults restart them
	common                        config.Producer
}

// The run's tenant and its API key.
const (
	chaosTenant = "chaos"
	chaosAPIKey = "chaos-local-key"
)

func (f *fleet) prepare() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if f.self, err = filepath.EvalSymlinks(exe); err != nil {
		return err
	}
	if f.o.binDir == "" {
		f.o.binDir = filepath.Dir(f.self)
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	for _, name := range []string{"worker", "producer"} {
		if _, err := os.Stat(filepath.Join(f.o.binDir, name)); err != nil {
			return fmt.Errorf("localstack chaos: %s binary not found in %s (run make build)", name, f.o.binDir)
		}
	}
	if f.o.images == "" {
		f.o.images = sampleDir(wd, f.o.binDir)
	}
	if f.images, err = listImages(f.o.images); err != nil {
		return err
	}
	wcfg, err := config.LoadWorker(nil, os.LookupEnv)
	if err != nil {
		return err
	}
	if f.ortLib, err = findORTLib(wcfg.ORTLib, wd, f.o.binDir); err != nil {
		return err
	}
	if f.common, err = config.LoadProducer(nil, os.LookupEnv); err != nil {
		return err
	}
	if f.o.dataDir == "" {
		if f.tmp, err = os.MkdirTemp("", "facefleet-chaos-*"); err != nil {
			return err
		}
		f.o.dataDir = f.tmp
	}
	if f.o.dataDir, err = filepath.Abs(f.o.dataDir); err != nil {
		return err
	}
	port := func() int {
		p, perr := devservers.FreePort()
		if perr != nil && err == nil {
			err = perr
		}
		return p
	}
	for range f.o.natsNodes {
		f.natsPorts = append(f.natsPorts, port())
		f.natsMon = append(f.natsMon, port())
		f.natsRoute = append(f.natsRoute, port())
	}
	var urls []string
	for _, p := range f.natsPorts {
		urls = append(urls, "nats://"+hostPort(p))
	}
	f.natsURL = strings.Join(urls, ",")
	f.s3Addr = hostPort(port())
	f.redisPort = port()
	f.apiPort = port()
	for range f.o.workers {
		f.workerPorts = append(f.workerPorts, port())
	}
	return err
}

func (f *fleet) cleanup() {
	if f.tmp != "" {
		_ = os.RemoveAll(f.tmp)
	}
}

// env is what the producer and the workers get.
func (f *fleet) env() []string {
	env := []string{
		"FACEFLEET_NATS_URL=" + f.natsURL,
		"FACEFLEET_NATS_REPLICAS=" + strconv.Itoa(f.o.natsNodes),
		"FACEFLEET_S3_ENDPOINT=" + f.s3Addr,
		"FACEFLEET_S3_ACCESS_KEY=" + f.common.S3AccessKey,
		"FACEFLEET_S3_SECRET_KEY=" + f.common.S3SecretKey,
		"FACEFLEET_S3_BUCKET=" + f.common.S3Bucket,
		"FACEFLEET_S3_USE_TLS=false",
		// A killed worker's jobs come back within seconds, not a minute.
		"FACEFLEET_ACK_WAIT=10s",
	}
	if f.o.maxDeliver > 0 {
		env = append(env, "FACEFLEET_MAX_DELIVER="+strconv.Itoa(f.o.maxDeliver))
	}
	if f.sentinel != nil {
		env = append(env, "FACEFLEET_REDIS_ADDRS="+strings.Join(f.sentinel.SentinelAddrs, ","),
			"FACEFLEET_REDIS_MASTER_NAME="+devservers.SentinelMaster, "FACEFLEET_REDIS_WAIT_REPLICAS=1")
	} else {
		env = append(env, "FACEFLEET_REDIS_ADDR="+hostPort(f.redisPort))
	}
	return env
}

// redisConfig is the Redis part of env, for the run's own clients.
func (f *fleet) redisConfig() config.Redis {
	r := config.Redis{RedisAddr: hostPort(f.redisPort), StatusTTL: time.Hour}
	if f.sentinel != nil {
		r.RedisAddrs = strings.Join(f.sentinel.SentinelAddrs, ",")
		r.RedisMasterName = devservers.SentinelMaster
	}
	return r
}

func (f *fleet) start(ctx context.Context) error {
	f.srvCtx, f.srvStop = context.WithCancel(context.Background())
	for i := range f.natsPorts {
		if err := f.startNATS(i); err != nil {
			return err
		}
	}
	for i := range f.nats {
		if err := f.nats[i].waitReady(ctx, f.o.timeout); err != nil {
			return err
		}
	}
	if err := f.startS3(ctx); err != nil {
		return err
	}
	var err error
	if f.o.redisMode == "sentinel" {
		f.sentinel, err = devservers.StartRedisSentinelSet(f.srvCtx, filepath.Join(f.o.dataDir, "redis"), 1)
	} else {
		err = f.startRedis()
	}
	if err != nil {
		return fmt.Errorf("localstack chaos: Redis: %w", err)
	}
	if err := f.provision(ctx); err != nil {
		return err
	}
	if err := f.startProducer(ctx); err != nil {
		return err
	}
	for i := range f.workerPorts {
		if err := f.startWorker(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

func (f *fleet) startNATS(i int) error {
	args := []string{"nats-node", "-name", "n" + strconv.Itoa(i), "-port", strconv.Itoa(f.natsPorts[i]),
		"-http-port", strconv.Itoa(f.natsMon[i]), "-store", filepath.Join(f.o.dataDir, "nats", "n"+strconv.Itoa(i))}
	if len(f.natsPorts) > 1 {
		var routes []string
		for _, p := range f.natsRoute {
			routes = append(routes, "nats-route://"+hostPort(p))
		}
		args = append(args, "-cluster-port", strconv.Itoa(f.natsRoute[i]), "-routes", strings.Join(routes, ","))
	}
	c, err := startChild("nats-"+strconv.Itoa(i), f.self, f.o.dataDir, args, nil,
		"http://"+hostPort(f.natsMon[i])+"/healthz?js-enabled-only=true", f.out, f.outMu)
	if err != nil {
		return err
	}
	f.setChild(&f.nats, i, c)
	return nil
}

// setChild puts c in slot i of *list (a restart replaces, a first start
// appends), under f.mu.
func (f *fleet) setChild(list *[]*child, i int, c *child) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < len(*list) {
		(*list)[i] = c
	} else {
		*list = append(*list, c)
	}
}

func (f *fleet) startS3(ctx context.Context) error {
	c, err := startChild("s3", f.self, f.o.dataDir, []string{"s3-node", "-dir", filepath.Join(f.o.dataDir, "s3"), "-addr", f.s3Addr},
		[]string{"S3GW_ACCESS_KEY=" + f.common.S3AccessKey, "S3GW_SECRET_KEY=" + f.common.S3SecretKey}, "", f.out, f.outMu)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.s3 = c
	f.mu.Unlock()
	return waitTCP(ctx, c, f.s3Addr, f.o.timeout)
}

func (f *fleet) startRedis() error {
	r, err := devservers.StartRedis(f.srvCtx, filepath.Join(f.o.dataDir, "redis"), f.redisPort)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.redis = r
	f.mu.Unlock()
	return nil
}

func (f *fleet) startProducer(ctx context.Context) error {
	env := append(f.env(), "FACEFLEET_HTTP_ADDR="+hostPort(f.apiPort), "FACEFLEET_API_KEYS="+chaosTenant+":"+chaosAPIKey)
	c, err := startChild("producer", filepath.Join(f.o.binDir, "producer"), f.o.dataDir, []string{"serve"}, env,
		"http://"+hostPort(f.apiPort)+"/readyz", f.out, f.outMu)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.producer = c
	f.mu.Unlock()
	return c.waitReady(ctx, f.o.timeout)
}

func (f *fleet) startWorker(ctx context.Context, i int) error {
	addr := hostPort(f.workerPorts[i])
	env := append(f.env(), "FACEFLEET_HTTP_ADDR="+addr, "FACEFLEET_DEVICES=cpu", "FACEFLEET_ORT_LIB="+f.ortLib,
		"FACEFLEET_WORKER_NAME=chaos-worker-"+strconv.Itoa(i))
	env = append(env, localWebhookEnv()...)
	c, err := startChild("worker-"+strconv.Itoa(i), filepath.Join(f.o.binDir, "worker"), f.o.dataDir, []string{"run"}, env,
		"http://"+addr+"/readyz", f.out, f.outMu)
	if err != nil {
		return err
	}
	f.setChild(&f.workers, i, c)
	return c.waitReady(ctx, f.o.timeout)
}

// backendConfig is the servers as the fleet's workers see them (env).
func (f *fleet) backendConfig() (backend.Config, error) {
	wcfg, err := config.LoadWorker(nil, envLookup(f.env()))
	if err != nil {
		return backend.Config{}, err
	}
	return backend.Config{NATS: wcfg.NATS, Redis: wcfg.Redis, S3: wcfg.S3}, nil
}

// provision creates the stream, its consumers and the bucket, as
// `producer provision` does.
func (f *fleet) provision(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.o.timeout)
	defer cancel()
	cfg, err := f.backendConfig()
	if err != nil {
		return err
	}
	// A cluster may still be placing peers: retry until it takes the R3 stream.
	for {
		_, err = backend.Provision(ctx, cfg, "localstack-chaos")
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("localstack chaos: provision: %w", err)
	}
	return nil
}

func (f *fleet) storage() (*storage.Store, error) {
	cfg, err := f.backendConfig()
	if err != nil {
		return nil, err
	}
	return storage.New(cfg.S3.StorageConfig())
}

// envLookup looks names up in env (KEY=VALUE) first, then the process environment.
func envLookup(env []string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v, true
			}
		}
		return os.LookupEnv(k)
	}
}

// waitTCP waits until addr accepts connections (or c exits).
func waitTCP(ctx context.Context, c *child, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return c.exitError()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localstack chaos: %s not listening on %s after %s", c.name, addr, timeout)
		}
	}
}

// kill SIGKILLs a child and waits for it.
func kill(c *child) {
	if c == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

// stopAll stops the workers, the producer, then the servers.
func (f *fleet) stopAll() {
	f.mu.Lock()
	workers, producer, s3, natsNodes := f.workers, f.producer, f.s3, f.nats
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { _ = w.stop(30 * time.Second) })
	}
	wg.Wait()
	if producer != nil {
		_ = producer.stop(15 * time.Second)
	}
	if s3 != nil {
		_ = s3.stop(10 * time.Second)
	}
	if f.sentinel != nil {
		f.sentinel.Stop()
	}
	if f.redis != nil {
		f.redis.Stop()
	}
	if f.srvStop != nil {
		f.srvStop()
	}
	for _, n := range natsNodes {
		_ = n.stop(10 * time.Second)
	}
}

// faultRecord is one injected fault.
type faultRecord struct {
	kind, target string
	at           time.Duration // since the run started
	down, ready  time.Duration // killed → restarted, restarted → ready
	failover     time.Duration // Sentinel: killed → replica promoted
	err          error
}

// inject SIGKILLs one process of kind (the n-th of that kind), keeps it down
// for o.down, restarts it and waits until it is ready again.
func (f *fleet) inject(ctx context.Context, kind string, n int) faultRecord {
	r := faultRecord{kind: kind}
	var restart func() error
	switch kind {
	case "worker":
		i := n % len(f.workerPorts)
		r.target = "worker-" + strconv.Itoa(i)
		f.mu.Lock()
		c := f.workers[i]
		f.mu.Unlock()
		kill(c)
		restart = func() error { return f.startWorker(ctx, i) }
	case "nats":
		i := n % len(f.natsPorts)
		r.target = "nats-" + strconv.Itoa(i)
		f.mu.Lock()
		c := f.nats[i]
		f.mu.Unlock()
		kill(c)
		restart = func() error {
			if err := f.startNATS(i); err != nil {
				return err
			}
			f.mu.Lock()
			c := f.nats[i]
			f.mu.Unlock()
			return c.waitReady(ctx, f.o.timeout)
		}
	case "redis":
		if f.sentinel != nil {
			i := f.sentinel.MasterIndex()
			if i < 0 {
				i = 0
			}
			r.target = "redis master " + f.sentinel.Addr(i)
			f.sentinel.KillNode(i)
			killed := time.Now()
			// The old master comes back only after the Sentinels promoted
			// the replica (it then rejoins as a replica).
			for f.sentinel.MasterIndex() == i && time.Since(killed) < f.o.timeout && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
			r.failover = time.Since(killed)
			restart = func() error { return f.sentinel.StartNode(i) }
		} else {
			r.target = "redis " + hostPort(f.redisPort)
			f.mu.Lock()
			red := f.redis
			f.mu.Unlock()
			red.Kill()
			restart = f.startRedis
		}
	case "s3":
		r.target = "s3 " + f.s3Addr
		f.mu.Lock()
		c := f.s3
		f.mu.Unlock()
		kill(c)
		restart = func() error { return f.startS3(ctx) }
	case "producer":
		r.target = "producer"
		f.mu.Lock()
		c := f.producer
		f.mu.Unlock()
		kill(c)
		restart = func() error { return f.startProducer(ctx) }
	}
	killed := time.Now().Add(-r.failover)
	select {
	case <-ctx.Done():
	case <-time.After(f.o.down - r.failover):
	}
	r.down = time.Since(killed)
	t := time.Now()
	r.err = restart()
	r.ready = time.Since(t)
	return r
}

// chaosJob is one submitted job.
type chaosJob struct {
	id       string
	bad      bool // a corrupt photo: must fail
	start    time.Time
	accepted time.Time
	final    status.Record
	problems []string
}

// chaosResult is what the run found.
type chaosResult struct {
	jobs                       []*chaosJob
	submitErrors, refused      int
	refusals                   []string
	faults                     []faultRecord
	succeeded, failed, pending int
	wrongOutcome, missingFiles int
	regressions, multiTerminal int
	noAttempts                 int
	redelivered, maxAttempts   int
	events                     int
	leftInQueue                uint64
	unknown, unknownOpen       int // the tenant's jobs the run was not told of; those not finished
	unknownOpenIDs             []string
	deadLetters                uint64
	latencies                  []time.Duration
	window, total              time.Duration
}

func (r *chaosResult) bad() bool {
	return r.refused > 0 || r.pending > 0 || r.unknownOpen > 0 || r.wrongOutcome > 0 || r.missingFiles > 0 || r.regressions > 0 ||
		r.multiTerminal > 0 || r.noAttempts > 0 || r.leftInQueue > 0
}

func (r *chaosResult) print(w io.Writer) {
	fmt.Fprintf(w, "\nfaults (%d):\n", len(r.faults))
	for _, f := range r.faults {
		line := fmt.Sprintf("  %7.1fs  SIGKILL %-8s %-28s down %s, ready %s after restart", f.at.Seconds(), f.kind, f.target,
			f.down.Round(time.Millisecond), f.ready.Round(time.Millisecond))
		if f.failover > 0 {
			line += fmt.Sprintf(" (replica promoted %s after the kill)", f.failover.Round(time.Millisecond))
		}
		if f.err != nil {
			line += " — restart failed: " + f.err.Error()
		}
		fmt.Fprintln(w, line)
	}
	slices.Sort(r.latencies)
	fmt.Fprintf(w, "\njobs: %d accepted (%d submit attempts refused or cut off, retried), window %s, all done after %s\n",
		len(r.jobs), r.submitErrors, r.window.Round(time.Millisecond), r.total.Round(time.Millisecond))
	for i, m := range r.refusals {
		if i < 5 {
			fmt.Fprintf(w, "  refused: %s\n", m)
		}
	}
	fmt.Fprintf(w, "  refused by the API (4xx) %d; succeeded %d, failed %d (corrupt photos, expected), not finished %d\n", r.refused, r.succeeded, r.failed, r.pending)
	fmt.Fprintf(w, "  wrong outcome %d, missing result files %d, no attempt recorded %d\n", r.wrongOutcome, r.missingFiles, r.noAttempts)
	fmt.Fprintf(w, "  status events %d: regressions %d, more than one terminal state %d; jobs run more than once %d (most attempts %d)\n",
		r.events, r.regressions, r.multiTerminal, r.redelivered, r.maxAttempts)
	fmt.Fprintf(w, "  left in the queue %d, dead letters %d; jobs whose submit reply was lost %d, of them not finished %d %v\n",
		r.leftInQueue, r.deadLetters, r.unknown, r.unknownOpen, r.unknownOpenIDs)
	if len(r.latencies) > 0 {
		fmt.Fprintf(w, "  submit → terminal: p50 %s, p90 %s, p99 %s, max %s\n",
			percentile(r.latencies, 50).Round(time.Millisecond), percentile(r.latencies, 90).Round(time.Millisecond),
			percentile(r.latencies, 99).Round(time.Millisecond), r.latencies[len(r.latencies)-1].Round(time.Millisecond))
	}
	shown := 0
	for _, j := range r.jobs {
		for _, p := range j.problems {
			if shown < 20 {
				fmt.Fprintf(w, "  job %s: %s\n", j.id, p)
			}
			shown++
		}
	}
	if r.bad() {
		fmt.Fprintln(w, "RESULT: FAIL")
	} else {
		fmt.Fprintln(w, "RESULT: PASS — every accepted job has exactly one terminal state, nothing lost or regressed")
	}
}

// event is one status event as the run saw it.
type event struct {
	revision       int64
	state          status.State
	percent, tries int
}

// run submits the jobs, injects the faults, waits and checks.
func (f *fleet) run(ctx context.Context, faults []string) (*chaosResult, error) {
	res := &chaosResult{}
	rcfg := f.redisConfig()
	rdb := rcfg.RedisClient()
	defer rdb.Close()
	st := status.New(rdb, rcfg.StatusConfig())

	// Every job's status events (the pattern subscription reconnects by
	// itself after a Redis restart or failover).
	var evMu sync.Mutex
	events := map[string][]event{}
	ps := rdb.PSubscribe(ctx, st.Channel("*"))
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		return nil, fmt.Errorf("localstack chaos: subscribe to status events: %w", err)
	}
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		for msg := range ps.Channel(redis.WithChannelSize(4096)) {
			var m map[string]string
			if json.Unmarshal([]byte(msg.Payload), &m) != nil {
				continue
			}
			rev, _ := strconv.ParseInt(m["revision"], 10, 64)
			pct, _ := strconv.Atoi(m["percent"])
			tries, _ := strconv.Atoi(m["attempts"])
			evMu.Lock()
			events[m["id"]] = append(events[m["id"]], event{rev, status.State(m["state"]), pct, tries})
			evMu.Unlock()
		}
	}()

	photos := make([][]byte, len(f.images))
	for i, p := range f.images {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		photos[i] = b
	}
	corrupt := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{0x42}, 2048)...)

	runStart := time.Now()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()

	// Faults: every kind once per round, rounds spread over the window.
	var faultWG sync.WaitGroup
	var faultMu sync.Mutex
	if len(faults) > 0 {
		rng := rand.New(rand.NewPCG(f.o.seed, 7))
		faultWG.Go(func() {
			// Fault i starts at (i+1)·step after the start (or as soon as
			// the one before is over); more rounds follow while the window
			// lasts.
			step := f.o.interval
			if step <= 0 {
				step = f.o.duration / time.Duration(len(faults)+1)
			}
			counts := map[string]int{}
			offset := map[string]int{}
			for _, k := range faults {
				offset[k] = rng.IntN(16)
			}
			for i := 0; ; i++ {
				at := runStart.Add(time.Duration(i+1) * step)
				if i >= len(faults) && at.After(runStart.Add(f.o.duration)) {
					return
				}
				select {
				case <-runCtx.Done():
					return
				case <-time.After(time.Until(at)):
				}
				k := faults[i%len(faults)]
				r := f.inject(runCtx, k, offset[k]+counts[k])
				counts[k]++
				r.at = time.Since(runStart)
				faultMu.Lock()
				res.faults = append(res.faults, r)
				faultMu.Unlock()
				f.log.Info("fault", slog.String("kind", r.kind), slog.String("target", r.target),
					slog.Duration("ready", r.ready), slog.Any("err", r.err))
			}
		})
	}

	// Submissions, spread over the window.
	client := &http.Client{Timeout: 30 * time.Second}
	jobsCh := make(chan int)
	var subWG sync.WaitGroup
	var subMu sync.Mutex
	for range f.o.concurrency {
		subWG.Go(func() {
			for i := range jobsCh {
				bad := f.o.badEvery > 0 && (i+1)%f.o.badEvery == 0
				img := photos[i%len(photos)]
				if bad {
					img = corrupt
				}
				j := &chaosJob{bad: bad, start: time.Now()}
				for runCtx.Err() == nil {
					id, refused, err := submitHTTP(runCtx, client, "http://"+hostPort(f.apiPort), img)
					if err == nil {
						j.id, j.accepted = id, time.Now()
						break
					}
					subMu.Lock()
					if refused {
						res.refused++
						res.refusals = append(res.refusals, err.Error())
					} else {
						res.submitErrors++
					}
					subMu.Unlock()
					if refused {
						break // the API said no (4xx): not accepted, nothing to retry
					}
					time.Sleep(250 * time.Millisecond)
				}
				if j.id != "" {
					subMu.Lock()
					res.jobs = append(res.jobs, j)
					subMu.Unlock()
				}
			}
		})
	}
	gap := f.o.duration / time.Duration(f.o.jobs)
	for i := range f.o.jobs {
		select {
		case jobsCh <- i:
		case <-runCtx.Done():
		}
		time.Sleep(gap)
	}
	close(jobsCh)
	subWG.Wait()
	faultWG.Wait()
	res.window = time.Since(runStart)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, fr := range res.faults {
		if fr.err != nil {
			return nil, fmt.Errorf("localstack chaos: restart after %s fault: %w", fr.kind, fr.err)
		}
	}

	// Wait until every accepted job is terminal.
	deadline := time.Now().Add(f.o.settle)
	for {
		open := 0
		for _, j := range res.jobs {
			if j.final.State.Terminal() {
				continue
			}
			rec, err := st.Get(ctx, j.id)
			if err == nil {
				j.final = rec
			}
			if !j.final.State.Terminal() {
				open++
			}
		}
		if open == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	res.total = time.Since(runStart)
	time.Sleep(500 * time.Millisecond) // the last events
	_ = ps.Close()
	<-evDone

	if err := f.checkQueue(ctx, res); err != nil {
		return nil, err
	}
	// Jobs of the tenant the run does not know (accepted, but the reply
	// was cut off by a fault) must have finished too: nothing in flight.
	known := map[string]bool{}
	for _, j := range res.jobs {
		known[j.id] = true
	}
	for before := ""; ; {
		recs, next, err := st.List(ctx, chaosTenant, before, status.MaxListLimit)
		if err != nil {
			return nil, fmt.Errorf("localstack chaos: list jobs: %w", err)
		}
		for _, r := range recs {
			if known[r.ID] {
				continue
			}
			res.unknown++
			if !r.State.Terminal() {
				res.unknownOpen++
				res.unknownOpenIDs = append(res.unknownOpenIDs, r.ID+" ("+string(r.State)+")")
			}
		}
		if next == "" {
			break
		}
		before = next
	}
	store, err := f.storage()
	if err != nil {
		return nil, err
	}
	evMu.Lock()
	defer evMu.Unlock()
	for _, j := range res.jobs {
		f.checkJob(ctx, store, j, events[j.id], res)
	}
	return res, nil
}

// checkJob records what is wrong with one job.
func (f *fleet) checkJob(ctx context.Context, store *storage.Store, j *chaosJob, evs []event, res *chaosResult) {
	res.events += len(evs)
	rec := j.final
	switch {
	case !rec.State.Terminal():
		res.pending++
		j.problems = append(j.problems, fmt.Sprintf("not finished: state %q", rec.State))
		return
	case j.bad && rec.State == status.StateFailed && rec.ErrorCode != "":
		res.failed++
	case !j.bad && rec.State == status.StateSucceeded:
		res.succeeded++
	default:
		res.wrongOutcome++
		j.problems = append(j.problems, fmt.Sprintf("state %s (%s %s), want %s", rec.State, rec.ErrorCode, rec.ErrorMessage,
			map[bool]string{true: "failed", false: "succeeded"}[j.bad]))
	}
	if !j.bad && rec.FinishedAt.After(j.start) {
		res.latencies = append(res.latencies, rec.FinishedAt.Sub(j.start))
	}
	if rec.State == status.StateSucceeded {
		if rec.Attempts < 1 {
			res.noAttempts++
			j.problems = append(j.problems, "no attempt recorded")
		}
		if rec.Attempts > 1 {
			res.redelivered++
		}
		res.maxAttempts = max(res.maxAttempts, rec.Attempts)
		hasResult := false
		for _, key := range rec.Outputs {
			if strings.HasSuffix(key, "/result.json") {
				hasResult = true
			}
			if _, err := store.Stat(ctx, key); err != nil {
				res.missingFiles++
				j.problems = append(j.problems, fmt.Sprintf("output %s: %v", key, err))
			}
		}
		if !hasResult {
			res.missingFiles++
			j.problems = append(j.problems, "no result.json among the outputs")
		}
	}
	// History: revisions rise, the state never goes back (queued < running
	// < terminal), percent never falls within one attempt, one terminal state.
	rank := map[status.State]int{status.StateQueued: 0, status.StateRunning: 1,
		status.StateSucceeded: 2, status.StateFailed: 2, status.StateCanceled: 2}
	var prev *event
	var terminal status.State
	for i := range evs {
		e := &evs[i]
		if e.state.Terminal() {
			if terminal != "" && terminal != e.state {
				res.multiTerminal++
				j.problems = append(j.problems, fmt.Sprintf("terminal %s after %s", e.state, terminal))
			}
			terminal = e.state
		}
		if prev != nil {
			switch {
			case e.revision <= prev.revision:
				res.regressions++
				j.problems = append(j.problems, fmt.Sprintf("revision %d after %d", e.revision, prev.revision))
			case rank[e.state] < rank[prev.state]:
				res.regressions++
				j.problems = append(j.problems, fmt.Sprintf("state %s after %s (revision %d)", e.state, prev.state, e.revision))
			case e.tries < prev.tries:
				res.regressions++
				j.problems = append(j.problems, fmt.Sprintf("attempts %d after %d", e.tries, prev.tries))
			case e.tries == prev.tries && e.state == prev.state && e.percent < prev.percent:
				res.regressions++
				j.problems = append(j.problems, fmt.Sprintf("percent %d after %d in attempt %d", e.percent, prev.percent, e.tries))
			}
		}
		prev = e
	}
	if terminal != "" && terminal != rec.State {
		res.multiTerminal++
		j.problems = append(j.problems, fmt.Sprintf("events ended %s, record says %s", terminal, rec.State))
	}
	if rec.Revision > 0 && prev != nil && prev.revision > rec.Revision {
		res.regressions++
		j.problems = append(j.problems, fmt.Sprintf("record revision %d below an event's %d (a write was lost)", rec.Revision, prev.revision))
	}
}

// checkQueue waits until the job stream is empty and counts dead letters.
func (f *fleet) checkQueue(ctx context.Context, res *chaosResult) error {
	cfg, err := f.backendConfig()
	if err != nil {
		return err
	}
	c, err := backend.Open(ctx, cfg, backend.Options{Name: "localstack-chaos-check", NoRedis: true, NoBucket: true, ProvisionIfMissing: true})
	if err != nil {
		return err
	}
	defer c.Close()
	js, q := c.JS, c.Queue
	deadline := time.Now().Add(30 * time.Second)
	for {
		lag, err := q.Lag(ctx)
		if err == nil {
			res.leftInQueue = lag.Total()
			if res.leftInQueue == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("localstack chaos: queue lag: %w", err)
			}
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if s, err := js.Stream(ctx, q.Config().DeadLetterStream); err == nil {
		if info, err := s.Info(ctx); err == nil {
			res.deadLetters = info.State.Msgs
		}
	}
	return nil
}

// submitHTTP posts one photo to the producer API and returns the job ID;
// refused is true for a 4xx answer (retrying would not help).
func submitHTTP(ctx context.Context, c *http.Client, api string, img []byte) (id string, refused bool, _ error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("image", "face.jpg")
	if err != nil {
		return "", false, err
	}
	if _, err := fw.Write(img); err != nil {
		return "", false, err
	}
	if err := mw.Close(); err != nil {
		return "", false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/v1/jobs", &body)
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-API-Key", chaosAPIKey)
	resp, err := c.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusAccepted {
		return "", resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests,
			fmt.Errorf("submit: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	var j struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &j); err != nil || j.ID == "" {
		return "", false, fmt.Errorf("submit: bad reply %q", data)
	}
	return j.ID, false, nil
}

// natsNode runs `localstack nats-node`: one embedded NATS server (JetStream,
// optionally clustered) as its own process, so that chaos can SIGKILL it.
func natsNode(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("nats-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "n0", "server name")
	port := fs.Int("port", 4222, "client port")
	httpPort := fs.Int("http-port", 0, "monitoring port (0 = none)")
	store := fs.String("store", "", "JetStream store directory (required)")
	clusterPort := fs.Int("cluster-port", 0, "route port (with -routes: clustered)")
	routes := fs.String("routes", "", "nats-route:// URLs of every node, comma-separated")
	syncAlways := fs.Bool("sync-always", true, "fsync every JetStream write before acknowledging it (docs/DEPLOY.md)")
	if err := parse(fs, args); err != nil {
		return err
	}
	o := devservers.NATSOptions{Port: *port, HTTPPort: *httpPort, StoreDir: *store, ServerName: *name, SyncAlways: *syncAlways}
	if *routes != "" {
		o.ClusterName, o.ClusterPort, o.Routes = "facefleet-chaos", *clusterPort, strings.Split(*routes, ",")
	}
	srv, err := devservers.StartNATS(o)
	if err != nil {
		return err
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

// s3Node runs `localstack s3-node`: the S3 gateway as its own process.
func s3Node(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("s3-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "data directory (required)")
	addr := fs.String("addr", "127.0.0.1:9000", "listen address")
	if err := parse(fs, args); err != nil {
		return err
	}
	srv, err := devservers.StartS3(ctx, *dir, *addr, os.Getenv("S3GW_ACCESS_KEY"), os.Getenv("S3GW_SECRET_KEY"))
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		srv.Stop()
		return nil
	case <-srv.Done():
		return srv.Err()
	}
}
