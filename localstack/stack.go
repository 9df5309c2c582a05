package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/shared/backend"
	"github.com/facefleet/facefleet/shared/devservers"
	"github.com/facefleet/facefleet/shared/storage"
)

// ErrPortInUse is returned when a port the stack needs is taken, most often
// by another local stack.
var ErrPortInUse = errors.New("localstack: port in use")

// PortInUseError names the port that was taken and what needed it.
type PortInUseError struct {
	// What needed the port ("NATS", "S3", ...).
	What string
	// Addr is host:port.
	Addr string
	Err  error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("localstack: %s port %s is in use (another local stack running? stop it, or pick another port with a flag): %v",
		e.What, e.Addr, e.Err)
}

// Unwrap returns ErrPortInUse.
func (e *PortInUseError) Unwrap() error { return ErrPortInUse }

// Options configure a local stack. Zero values take the documented defaults.
type Options struct {
	// DataDir holds the durable state: nats/, s3/, redis/. Default ".data".
	DataDir string
	// BinDir holds the worker and producer binaries. Default: the directory
	// of the localstack executable.
	BinDir string
	// WorkDir is the working directory of the children. Default: the current
	// directory when the stack starts.
	WorkDir string
	// Devices is FACEFLEET_DEVICES of every worker. Default "cpu".
	Devices string
	// Workers is the number of worker processes. Default 1.
	Workers int
	// Ports: NATS 4222, NATS monitoring 8222, S3 9000, Redis 6379, producer
	// API 8080, worker health 8081 (+i for worker i).
	NATSPort, NATSMonitorPort, S3Port, RedisPort, APIPort, WorkerPort int
	// APIKey is the producer's local API key (tenant "local"). Default "local-dev-key".
	APIKey string
	// ReadyTimeout bounds the wait for each child's /readyz. Default 2m.
	ReadyTimeout time.Duration
	// StopTimeout bounds the wait for each child after SIGTERM. Default 90s
	// (the worker's drain timeout is 60s).
	StopTimeout time.Duration
	// Out receives the children's prefixed log lines. Default os.Stderr.
	Out io.Writer
	// Log is the stack's own logger. Default discards.
	Log *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.DataDir == "" {
		o.DataDir = ".data"
	}
	if o.WorkDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		o.WorkDir = wd
	}
	if o.BinDir == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("localstack: find own executable: %w", err)
		}
		if exe, err = filepath.EvalSymlinks(exe); err != nil {
			return err
		}
		o.BinDir = filepath.Dir(exe)
	}
	var err error
	if o.DataDir, err = filepath.Abs(o.DataDir); err != nil {
		return err
	}
	if o.BinDir, err = filepath.Abs(o.BinDir); err != nil {
		return err
	}
	if o.Devices == "" {
		o.Devices = "cpu"
	}
	if o.Workers == 0 {
		o.Workers = 1
	}
	for _, p := range []struct {
		v   *int
		def int
	}{{&o.NATSPort, 4222}, {&o.NATSMonitorPort, 8222}, {&o.S3Port, 9000}, {&o.RedisPort, 6379},
		{&o.APIPort, 8080}, {&o.WorkerPort, 8081}} {
		if *p.v == 0 {
			*p.v = p.def
		}
	}
	if o.APIKey == "" {
		o.APIKey = "local-dev-key"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 2 * time.Minute
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 90 * time.Second
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Workers < 1 || o.Workers > 64 {
		return fmt.Errorf("localstack: --workers %d: want 1..64", o.Workers)
	}
	return nil
}

// Stack is a running local stack: NATS, S3 and Redis in this process (Redis
// as a child), and the producer API and the workers as child processes.
type Stack struct {
	opts Options
	// Endpoints and settings the children and clients use.
	NATSURL, S3Endpoint, RedisAddr string
	APIURL                         string
	WorkerURLs                     []string
	// Common is the shared configuration of the stack's servers (bucket,
	// stream, S3 keys), as the children see it.
	Common config.Producer
	// ORTLib is the ONNX Runtime library the workers load.
	ORTLib string

	nats     *devservers.NATSServer
	redis    *devservers.RedisServer
	s3       *devservers.S3Server
	srvStop  context.CancelFunc
	children []*child
	outMu    sync.Mutex
	stopOnce sync.Once
	stopErr  error
}

// host is where every server of the stack listens.
const host = "127.0.0.1"

func hostPort(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// Start starts the stack and returns once every child answers /readyz 200.
// On error everything already started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	common, err := config.LoadProducer(nil, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("localstack: configuration from FACEFLEET_* env: %w", err)
	}
	wcfg, err := config.LoadWorker(nil, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("localstack: worker configuration from FACEFLEET_* env: %w", err)
	}
	s := &Stack{opts: opts, Common: common}
	s.NATSURL = "nats://" + hostPort(opts.NATSPort)
	s.S3Endpoint = hostPort(opts.S3Port)
	s.RedisAddr = hostPort(opts.RedisPort)
	s.APIURL = "http://" + hostPort(opts.APIPort)
	s.Common.NATSURL, s.Common.S3Endpoint, s.Common.RedisAddr = s.NATSURL, s.S3Endpoint, s.RedisAddr
	s.Common.S3UseTLS = false
	s.Common.HTTPAddr = hostPort(opts.APIPort)

	if err := s.checkBinaries(); err != nil {
		return nil, err
	}
	if s.ORTLib, err = findORTLib(wcfg.ORTLib, opts.WorkDir, opts.BinDir); err != nil {
		return nil, err
	}
	if err := s.checkPorts(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	if err := s.startServers(); err != nil {
		return nil, err
	}
	if err := s.provision(ctx, wcfg); err != nil {
		return nil, err
	}
	if err := s.startChildren(); err != nil {
		return nil, err
	}
	for _, c := range s.children {
		if err := c.waitReady(ctx, opts.ReadyTimeout); err != nil {
			return nil, err
		}
		opts.Log.Info("ready", slog.String("process", c.name), slog.String("readyz", c.readyz))
	}
	return s, nil
}

func (s *Stack) checkBinaries() error {
	var errs []error
	for _, name := range []string{"worker", "producer"} {
		p := filepath.Join(s.opts.BinDir, name)
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("localstack: %s binary not found at %s (run make build)", name, p))
		}
	}
	return errors.Join(errs...)
}

// findORTLib returns the absolute path of the ONNX Runtime library: the
// configured one, else .cache/ort/libonnxruntime.so.1 under the working
// directory or under the parent of the binaries' directory.
func findORTLib(configured, workDir, binDir string) (string, error) {
	if configured != "" {
		return filepath.Abs(configured)
	}
	rel := filepath.Join(".cache", "ort", "libonnxruntime.so.1")
	candidates := []string{filepath.Join(workDir, rel), filepath.Join(filepath.Dir(binDir), rel)}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("localstack: ONNX Runtime library not found at %v: run make setup or set FACEFLEET_ORT_LIB", candidates)
}

// checkPorts fails with a PortInUseError naming the first port that cannot
// be bound, before anything starts.
func (s *Stack) checkPorts() error {
	ports := []struct {
		what string
		port int
	}{{"NATS", s.opts.NATSPort}, {"NATS monitoring", s.opts.NATSMonitorPort}, {"S3", s.opts.S3Port},
		{"Redis", s.opts.RedisPort}, {"producer API", s.opts.APIPort}}
	for i := range s.opts.Workers {
		ports = append(ports, struct {
			what string
			port int
		}{fmt.Sprintf("worker %d health", i), s.opts.WorkerPort + i})
	}
	seen := map[int]string{}
	for _, p := range ports {
		if other, dup := seen[p.port]; dup {
			return fmt.Errorf("localstack: %s and %s both want port %d", other, p.what, p.port)
		}
		seen[p.port] = p.what
		l, err := net.Listen("tcp", hostPort(p.port))
		if err != nil {
			return &PortInUseError{What: p.what, Addr: hostPort(p.port), Err: err}
		}
		_ = l.Close()
	}
	return nil
}

func (s *Stack) startServers() error {
	dirs := map[string]string{}
	for _, d := range []string{"nats", "s3", "redis"} {
		dirs[d] = filepath.Join(s.opts.DataDir, d)
		if err := os.MkdirAll(dirs[d], 0o755); err != nil {
			return fmt.Errorf("localstack: data dir: %w", err)
		}
	}
	var err error
	s.nats, err = devservers.StartNATS(devservers.NATSOptions{Host: host, Port: s.opts.NATSPort,
		HTTPPort: s.opts.NATSMonitorPort, StoreDir: dirs["nats"]})
	if err != nil {
		return fmt.Errorf("localstack: NATS: %w", err)
	}
	s.opts.Log.Info("NATS JetStream up", slog.String("url", s.nats.URL), slog.String("store", dirs["nats"]))
	// The servers live until Stop, not until the caller's ctx ends: the
	// workers need them while they drain.
	srvCtx, cancel := context.WithCancel(context.Background())
	s.srvStop = cancel
	s.redis, err = devservers.StartRedis(srvCtx, dirs["redis"], s.opts.RedisPort)
	if err != nil {
		return fmt.Errorf("localstack: Redis: %w", err)
	}
	s.opts.Log.Info("Redis up", slog.String("addr", s.redis.Addr), slog.String("dir", dirs["redis"]))
	// versitygw changes this process's working directory; every path the
	// stack uses is absolute by now.
	s.s3, err = devservers.StartS3(srvCtx, dirs["s3"], s.S3Endpoint, s.Common.S3AccessKey, s.Common.S3SecretKey)
	if err != nil {
		return fmt.Errorf("localstack: S3: %w", err)
	}
	s.opts.Log.Info("S3 (versitygw) up", slog.String("endpoint", s.s3.Endpoint), slog.String("dir", dirs["s3"]))
	return nil
}

// provision creates the bucket, the job stream and its consumers; both are
// idempotent, so a restart on the same data dir changes nothing.
func (s *Stack) provision(ctx context.Context, w config.Worker) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The stream as the producer sees it, the consumers as the workers do.
	n := s.Common.NATS
	n.AckWait, n.MaxDeliver, n.MaxAckPending = w.AckWait, w.MaxDeliver, w.MaxAckPending
	qcfg, err := backend.Provision(ctx, backend.Config{NATS: n, S3: s.Common.S3}, "localstack")
	if err != nil {
		return fmt.Errorf("localstack: provision: %w", err)
	}
	s.opts.Log.Info("provisioned", slog.String("stream", qcfg.WithDefaults().Stream), slog.String("bucket", s.Common.S3Bucket))
	return nil
}

// Storage returns a store on the stack's S3 server and bucket.
func (s *Stack) Storage() (*storage.Store, error) {
	cfg := s.Common.StorageConfig()
	cfg.PresignExpiry = s.Common.PresignExpiry
	return storage.New(cfg)
}

// Env returns the FACEFLEET_* variables pointing a process at the stack's
// servers (what the children get, and what a client in the same terminal needs).
func (s *Stack) Env() []string {
	return []string{
		"FACEFLEET_NATS_URL=" + s.NATSURL,
		"FACEFLEET_REDIS_ADDR=" + s.RedisAddr,
		"FACEFLEET_S3_ENDPOINT=" + s.S3Endpoint,
		"FACEFLEET_S3_ACCESS_KEY=" + s.Common.S3AccessKey,
		"FACEFLEET_S3_SECRET_KEY=" + s.Common.S3SecretKey,
		"FACEFLEET_S3_BUCKET=" + s.Common.S3Bucket,
		"FACEFLEET_S3_USE_TLS=false",
	}
}

func (s *Stack) startChildren() error {
	prod := append(s.Env(),
		"FACEFLEET_HTTP_ADDR="+hostPort(s.opts.APIPort),
		"FACEFLEET_API_KEYS="+localAPIKeys(s.opts.APIKey),
	)
	c, err := startChild("producer", filepath.Join(s.opts.BinDir, "producer"), s.opts.WorkDir,
		[]string{"serve"}, prod, s.APIURL+"/readyz", s.opts.Out, &s.outMu)
	if err != nil {
		return err
	}
	s.children = append(s.children, c)
	for i := range s.opts.Workers {
		name := "worker"
		if s.opts.Workers > 1 {
			name = fmt.Sprintf("worker-%d", i)
		}
		addr := hostPort(s.opts.WorkerPort + i)
		env := append(s.Env(),
			"FACEFLEET_HTTP_ADDR="+addr,
			"FACEFLEET_DEVICES="+s.opts.Devices,
			"FACEFLEET_ORT_LIB="+s.ORTLib,
			"FACEFLEET_WORKER_NAME=local-"+name,
		)
		env = append(env, localWebhookEnv()...)
		c, err := startChild(name, filepath.Join(s.opts.BinDir, "worker"), s.opts.WorkDir,
			[]string{"run"}, env, "http://"+addr+"/readyz", s.opts.Out, &s.outMu)
		if err != nil {
			return err
		}
		s.WorkerURLs = append(s.WorkerURLs, "http://"+addr)
		s.children = append(s.children, c)
	}
	return nil
}

// localAPIKeys is the producer's key list: tenant local's key, then the
// tenant:key pairs of FACEFLEET_API_KEYS in the environment (so that
// `FACEFLEET_API_KEYS=acme:acme-local-key make up` lets tenant acme read its
// raw-published jobs over HTTP).
func localAPIKeys(localKey string) string {
	keys := "local:" + localKey
	if more := os.Getenv("FACEFLEET_API_KEYS"); more != "" {
		keys += "," + more
	}
	return keys
}

// LocalWebhookSecret signs the local stack's webhooks for every tenant
// (docs/CONTRACT.md), unless FACEFLEET_WEBHOOK_SECRETS is set. It is public:
// local use only.
const LocalWebhookSecret = "whsec_ZmFjZWZsZWV0LWxvY2FsLXdlYmhvb2stc2VjcmV0"

// localWebhookEnv lets the local workers call webhooks on this machine
// (loopback) and sign them with LocalWebhookSecret; variables the user set
// win.
func localWebhookEnv() []string {
	var env []string
	if _, ok := os.LookupEnv("FACEFLEET_WEBHOOK_ALLOW"); !ok {
		env = append(env, "FACEFLEET_WEBHOOK_ALLOW=127.0.0.0/8,::1")
	}
	_, secrets := os.LookupEnv("FACEFLEET_WEBHOOK_SECRETS")
	_, file := os.LookupEnv("FACEFLEET_WEBHOOK_SECRETS_FILE")
	if !secrets && !file {
		env = append(env, "FACEFLEET_WEBHOOK_SECRETS=*:"+LocalWebhookSecret)
	}
	return env
}

// Exited returns a channel that receives the error of the first child that
// exits on its own.
func (s *Stack) Exited() <-chan error {
	ch := make(chan error, len(s.children))
	for _, c := range s.children {
		go func() {
			<-c.done
			ch <- c.exitError()
		}()
	}
	return ch
}

// Stop stops the workers first (SIGTERM: they drain), then the producer,
// then S3, Redis and NATS. Safe to call twice; it returns the first problem.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		// Workers before the producer, all of them at once.
		var wg sync.WaitGroup
		errCh := make(chan error, len(s.children))
		for i := len(s.children) - 1; i >= 1; i-- {
			wg.Go(func() { errCh <- s.children[i].stop(s.opts.StopTimeout) })
		}
		wg.Wait()
		if len(s.children) > 0 {
			errCh <- s.children[0].stop(s.opts.StopTimeout)
		}
		close(errCh)
		for err := range errCh {
			if err != nil {
				errs = append(errs, err)
			}
		}
		if s.s3 != nil {
			s.s3.Stop()
			if err := s.s3.Err(); err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("localstack: S3 stopped with: %w", err))
			}
		}
		if s.redis != nil {
			s.redis.Stop()
		}
		if s.srvStop != nil {
			s.srvStop()
		}
		if s.nats != nil {
			s.nats.Shutdown()
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
