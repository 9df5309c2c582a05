// Package config holds one documented configuration struct per facefleet
// binary ([Worker] and [Producer]) and loads it in one place.
//
// Sources, lowest precedence first:
//
//  1. defaults (the `default` tag of each field, documented on the field);
//  2. a YAML file named by --config: flat snake_case keys shared by both
//     binaries, plus optional "worker:" and "producer:" sections for keys of
//     one binary (they override top-level keys). Strict: an unknown key, in
//     any section, is an error;
//  3. environment variables FACEFLEET_*;
//  4. command-line flags (kebab-case, registered from the struct).
//
// The file key of a field is its environment name without the FACEFLEET_
// prefix, in lower case (FACEFLEET_NATS_URL → nats_url); the flag is the same
// with dashes (--nats-url). Validate reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
)

// ErrInvalid is wrapped by every validation and parse error of this package.
var ErrInvalid = errors.New("config: invalid configuration")

// NATS configures the JetStream connection. Shared by both binaries.
type NATS struct {
	// NATSURL is the NATS server URL (comma-separated for a cluster).
	// Env FACEFLEET_NATS_URL, default "nats://127.0.0.1:4222".
	NATSURL string `env:"NATS_URL" default:"nats://127.0.0.1:4222" usage:"NATS server URL(s), comma-separated"`
	// NATSStream is the JetStream stream holding jobs.
	// Env FACEFLEET_NATS_STREAM, default "FACEFLEET_JOBS".
	NATSStream string `env:"NATS_STREAM" default:"FACEFLEET_JOBS" usage:"JetStream stream name for jobs"`
	// NATSReplicas is the stream replica count (1..5).
	// Env FACEFLEET_NATS_REPLICAS, default 1.
	NATSReplicas int `env:"NATS_REPLICAS" default:"1" usage:"JetStream stream replicas (1..5)"`
	// NATSCreds is a NATS credentials file (JWT + NKey seed, ".creds") for
	// secured servers such as Synadia Cloud. Env FACEFLEET_NATS_CREDS,
	// default "" (no credentials).
	NATSCreds string `env:"NATS_CREDS" default:"" usage:"NATS credentials file (.creds)"`
	// AckWait is the JetStream ack wait of the worker consumers. Shared so
	// that `producer provision` and the workers provision identical
	// consumers. Env FACEFLEET_ACK_WAIT, default 60s.
	AckWait time.Duration `env:"ACK_WAIT" default:"60s" usage:"JetStream consumer ack wait"`
	// MaxDeliver is how many times a job is delivered before it goes to the
	// dead-letter queue. Env FACEFLEET_MAX_DELIVER, default 5.
	MaxDeliver int `env:"MAX_DELIVER" default:"5" usage:"deliveries before dead-lettering"`
	// MaxAckPending caps unacknowledged jobs per worker consumer; size it
	// from the fleet (total worker slots, with headroom for scale-out: the
	// chart sets 2 × max replicas × slots per device).
	// Env FACEFLEET_MAX_ACK_PENDING, default 1000.
	MaxAckPending int `env:"MAX_ACK_PENDING" default:"1000" usage:"unacknowledged jobs per consumer (size from the fleet)"`
}

// QueueConfig is the JetStream queue configuration these settings select.
func (n NATS) QueueConfig() queue.Config {
	return queue.Config{Stream: n.NATSStream, Replicas: n.NATSReplicas, AckWait: n.AckWait,
		MaxDeliver: n.MaxDeliver, MaxAckPending: n.MaxAckPending}
}

// ConnectOptions are the nats.Connect options every facefleet binary uses:
// a client name, unlimited reconnects and, when configured, the credentials
// file.
func (n NATS) ConnectOptions(name string) []nats.Option {
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
	if n.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(n.NATSCreds))
	}
	return opts
}

// Redis configures the status store. Shared by both binaries.
type Redis struct {
	// RedisAddr is the Redis host:port.
	// Env FACEFLEET_REDIS_ADDR, default "127.0.0.1:6379".
	RedisAddr string `env:"REDIS_ADDR" default:"127.0.0.1:6379" usage:"Redis host:port"`
	// RedisPassword is the Redis password (secret; redacted when printed).
	// Env FACEFLEET_REDIS_PASSWORD, default "" (no auth).
	RedisPassword string `env:"REDIS_PASSWORD" default:"" secret:"true" usage:"Redis password"`
	// RedisDB is the Redis logical database number.
	// Env FACEFLEET_REDIS_DB, default 0.
	RedisDB int `env:"REDIS_DB" default:"0" usage:"Redis database number"`
	// StatusTTL is how long job status records live in Redis after their
	// last update. Env FACEFLEET_STATUS_TTL, default 168h.
	StatusTTL time.Duration `env:"STATUS_TTL" default:"168h" usage:"lifetime of job status records"`
	// RedisAddrs are comma-separated host:port addresses: the Sentinels
	// when RedisMasterName is set, the seed nodes when RedisCluster is
	// true. Unused otherwise (RedisAddr names the one server).
	// Env FACEFLEET_REDIS_ADDRS, default "".
	RedisAddrs string `env:"REDIS_ADDRS" default:"" usage:"Sentinel or Cluster seed addresses host:port, comma-separated"`
	// RedisMasterName selects Sentinel: the name of the master the
	// Sentinels at RedisAddrs watch (go-redis failover client: it follows
	// a failover to the promoted replica).
	// Env FACEFLEET_REDIS_MASTER_NAME, default "" (no Sentinel).
	RedisMasterName string `env:"REDIS_MASTER_NAME" default:"" usage:"Sentinel master name (selects Sentinel)"`
	// RedisSentinelPassword authenticates to the Sentinels (secret).
	// Env FACEFLEET_REDIS_SENTINEL_PASSWORD, default "".
	RedisSentinelPassword string `env:"REDIS_SENTINEL_PASSWORD" default:"" secret:"true" usage:"Sentinel password"`
	// RedisCluster selects Redis Cluster, seeded from RedisAddrs (or
	// RedisAddr). Every status write touches one key, so it is slot-safe.
	// Env FACEFLEET_REDIS_CLUSTER, default false.
	RedisCluster bool `env:"REDIS_CLUSTER" default:"false" usage:"use Redis Cluster"`
	// RedisWaitReplicas makes every status write wait (Redis WAIT, up to
	// RedisWaitTimeout) until that many replicas have it, and fail when
	// fewer do, so that a failover cannot lose an acknowledged status.
	// Not with RedisCluster. Env FACEFLEET_REDIS_WAIT_REPLICAS, default 0
	// (off); 1 with Sentinel (docs/DEPLOY.md).
	RedisWaitReplicas int `env:"REDIS_WAIT_REPLICAS" default:"0" usage:"replicas each status write waits for (0 = off)"`
	// RedisWaitTimeout bounds that wait.
	// Env FACEFLEET_REDIS_WAIT_TIMEOUT, default 1s.
	RedisWaitTimeout time.Duration `env:"REDIS_WAIT_TIMEOUT" default:"1s" usage:"bound of the replica wait of a status write"`
}

// RedisSeeds returns RedisAddrs split at commas, or RedisAddr when
// RedisAddrs is empty.
func (r Redis) RedisSeeds() []string {
	var out []string
	for a := range strings.SplitSeq(r.RedisAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = []string{r.RedisAddr}
	}
	return out
}

// RedisClient returns the client these settings select: a failover client
// (Sentinel) when RedisMasterName is set, a cluster client when
// RedisCluster is true, else a plain client on RedisAddr. The caller
// closes it.
func (r Redis) RedisClient() redis.UniversalClient {
	switch {
	case r.RedisMasterName != "":
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: r.RedisMasterName,
			SentinelAddrs: r.RedisSeeds(), SentinelPassword: r.RedisSentinelPassword,
			Password: r.RedisPassword, DB: r.RedisDB})
	case r.RedisCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: r.RedisSeeds(), Password: r.RedisPassword})
	default:
		return redis.NewClient(&redis.Options{Addr: r.RedisAddr, Password: r.RedisPassword, DB: r.RedisDB})
	}
}

// RedisEndpoint describes where RedisClient connects, for logs and errors.
func (r Redis) RedisEndpoint() string {
	switch {
	case r.RedisMasterName != "":
		return "sentinel " + r.RedisMasterName + "@" + strings.Join(r.RedisSeeds(), ",")
	case r.RedisCluster:
		return "cluster " + strings.Join(r.RedisSeeds(), ",")
	default:
		return r.RedisAddr
	}
}

// StatusConfig is the status store configuration these settings select.
func (r Redis) StatusConfig() status.Config {
	return status.Config{TTL: r.StatusTTL, WaitReplicas: r.RedisWaitReplicas, WaitTimeout: r.RedisWaitTimeout}
}

func (r Redis) validate() []error {
	var errs []error
	errs = append(errs, hostPort("redis_addr", r.RedisAddr))
	for a := range strings.SplitSeq(r.RedisAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			errs = append(errs, hostPort("redis_addrs", a))
		}
	}
	if r.RedisMasterName != "" && strings.TrimSpace(r.RedisAddrs) == "" {
		errs = append(errs, fieldErr("redis_addrs", "redis_master_name needs the Sentinel addresses in redis_addrs"))
	}
	if r.RedisMasterName != "" && r.RedisCluster {
		errs = append(errs, fieldErr("redis_cluster", "redis_cluster and redis_master_name (Sentinel) exclude each other"))
	}
	if r.RedisCluster && r.RedisDB != 0 {
		errs = append(errs, fieldErr("redis_db", "Redis Cluster has only database 0, got %d", r.RedisDB))
	}
	if r.RedisWaitReplicas < 0 {
		errs = append(errs, fieldErr("redis_wait_replicas", "must be ≥ 0, got %d", r.RedisWaitReplicas))
	}
	if r.RedisWaitReplicas > 0 && r.RedisCluster {
		errs = append(errs, fieldErr("redis_wait_replicas", "not supported with redis_cluster"))
	}
	if r.RedisWaitReplicas > 0 {
		errs = append(errs, positive("redis_wait_timeout", r.RedisWaitTimeout))
	}
	return errs
}

// S3 configures the object store for inputs and results. Shared by both
// binaries.
type S3 struct {
	// S3Endpoint is the S3 host:port, without a scheme.
	// Env FACEFLEET_S3_ENDPOINT, default "127.0.0.1:9000".
	S3Endpoint string `env:"S3_ENDPOINT" default:"127.0.0.1:9000" usage:"S3 endpoint host:port (no scheme)"`
	// S3AccessKey is the S3 access key ID. The default matches the local
	// stack (shared/devservers). Env FACEFLEET_S3_ACCESS_KEY, default "facefleet".
	S3AccessKey string `env:"S3_ACCESS_KEY" default:"facefleet" usage:"S3 access key ID"`
	// S3SecretKey is the S3 secret key (secret; redacted when printed). The
	// default matches the local stack. Env FACEFLEET_S3_SECRET_KEY,
	// default "facefleet-secret".
	S3SecretKey string `env:"S3_SECRET_KEY" default:"facefleet-secret" secret:"true" usage:"S3 secret access key"`
	// S3Bucket is the bucket holding inputs/ and results/.
	// Env FACEFLEET_S3_BUCKET, default "facefleet".
	S3Bucket string `env:"S3_BUCKET" default:"facefleet" usage:"S3 bucket"`
	// S3UseTLS selects https for the S3 endpoint.
	// Env FACEFLEET_S3_USE_TLS, default false.
	S3UseTLS bool `env:"S3_USE_TLS" default:"false" usage:"use https for S3"`
	// S3Region is the S3 region used for signing.
	// Env FACEFLEET_S3_REGION, default "us-east-1".
	S3Region string `env:"S3_REGION" default:"us-east-1" usage:"S3 region"`
}

// StorageConfig is the object store configuration these settings select
// (without a presign expiry, which only the producer sets).
func (s S3) StorageConfig() storage.Config {
	return storage.Config{Endpoint: s.S3Endpoint, AccessKey: s.S3AccessKey, SecretKey: s.S3SecretKey,
		Bucket: s.S3Bucket, UseTLS: s.S3UseTLS, Region: s.S3Region}
}

// Log configures the structured logger. Shared by both binaries.
type Log struct {
	// LogLevel is one of debug, info, warn, error.
	// Env FACEFLEET_LOG_LEVEL, default "info".
	LogLevel string `env:"LOG_LEVEL" default:"info" usage:"log level: debug|info|warn|error"`
	// LogFormat is text or json.
	// Env FACEFLEET_LOG_FORMAT, default "text".
	LogFormat string `env:"LOG_FORMAT" default:"text" usage:"log format: text|json"`
}

// Level returns the slog level for LogLevel (info when unknown; Validate
// rejects unknown levels).
func (l Log) Level() slog.Level {
	switch strings.ToLower(l.LogLevel) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// Logger returns a logger writing to w in LogFormat at LogLevel.
func (l Log) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.Level()}
	if strings.EqualFold(l.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (l Log) validate() []error {
	var errs []error
	switch strings.ToLower(l.LogLevel) {
	case "debug", "info", "warn", "warning", "error":
	default:
		errs = append(errs, fieldErr("log_level", "%q is not one of debug, info, warn, error", l.LogLevel))
	}
	switch strings.ToLower(l.LogFormat) {
	case "text", "json":
	default:
		errs = append(errs, fieldErr("log_format", "%q is not one of text, json", l.LogFormat))
	}
	return errs
}

// FieldError is a problem with one configuration key. It wraps ErrInvalid.
type FieldError struct {
	// Key is the file key (snake_case) of the field.
	Key string
	// Msg says what is wrong.
	Msg string
}

func (e *FieldError) Error() string { return "config: " + e.Key + ": " + e.Msg }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(key, format string, args ...any) error {
	return &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)}
}
