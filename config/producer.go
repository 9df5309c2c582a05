package config

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/facefleet/facefleet/shared/job"
)

// Producer is the configuration of the producer binary (CLI, HTTP API) and
// of the Go client.
type Producer struct {
	NATS
	Redis
	S3
	Log

	// HTTPAddr is the listen address of the HTTP API (producer serve).
	// Env FACEFLEET_HTTP_ADDR, default ":8080".
	HTTPAddr string `env:"HTTP_ADDR" default:":8080" usage:"HTTP API listen address"`
	// APIKeysFile names a file of "tenant:key" lines (# comments and blank
	// lines allowed). Env FACEFLEET_API_KEYS_FILE, default "" (none).
	APIKeysFile string `env:"API_KEYS_FILE" default:"" usage:"file of tenant:key lines"`
	// APIKeys is a comma-separated "tenant:key,tenant2:key2" list, for local
	// use (secret; redacted when printed). Env FACEFLEET_API_KEYS, default "".
	APIKeys string `env:"API_KEYS" default:"" secret:"true" usage:"tenant:key,tenant2:key2 (local use)"`
	// MaxUploadBytes is the largest accepted upload in bytes.
	// Env FACEFLEET_MAX_UPLOAD_BYTES, default 33554432 (32 MiB).
	MaxUploadBytes int64 `env:"MAX_UPLOAD_BYTES" default:"33554432" usage:"largest accepted upload in bytes"`
	// PresignExpiry is the lifetime of presigned result URLs (1s..168h).
	// Env FACEFLEET_PRESIGN_EXPIRY, default 15m.
	PresignExpiry time.Duration `env:"PRESIGN_EXPIRY" default:"15m" usage:"lifetime of presigned URLs"`
	// Tenant is the tenant recorded on jobs submitted by the CLI and the Go
	// client. Env FACEFLEET_TENANT, default "local".
	Tenant string `env:"TENANT" default:"local" usage:"tenant recorded on submitted jobs"`
}

// Validate reports every problem of p at once; each wraps ErrInvalid.
func (p Producer) Validate() error {
	errs := commonValidate(p.NATS, p.Redis, p.S3, p.Log)
	errs = append(errs, validAddr("http_addr", p.HTTPAddr))
	if _, err := ParseAPIKeys(strings.ReplaceAll(p.APIKeys, ",", "\n")); err != nil {
		errs = append(errs, fieldErr("api_keys", "%v", err))
	}
	if p.MaxUploadBytes < 1 {
		errs = append(errs, fieldErr("max_upload_bytes", "must be ≥ 1, got %d", p.MaxUploadBytes))
	}
	if p.PresignExpiry < time.Second || p.PresignExpiry > 7*24*time.Hour {
		errs = append(errs, fieldErr("presign_expiry", "must be between 1s and 168h, got %s", p.PresignExpiry))
	}
	if !ValidTenant(p.Tenant) {
		errs = append(errs, fieldErr("tenant", "%q: want 1-64 characters of a-z, A-Z, 0-9, '_' or '-'", p.Tenant))
	}
	return errors.Join(errs...)
}

// ValidTenant reports whether s is a usable tenant name: 1-64 characters of
// a-z, A-Z, 0-9, '_' or '-' (safe in S3 keys and Redis keys). The rule is
// job.ValidProducerTenant's.
func ValidTenant(s string) bool { return job.ValidProducerTenant(s) }

// APIKey maps one secret key to the tenant it authenticates.
type APIKey struct {
	Tenant string
	Key    string
}

// String redacts the key.
func (k APIKey) String() string { return k.Tenant + ":" + redacted }

// ParseAPIKeys parses "tenant:key" lines. Blank lines and lines starting with
// '#' are skipped; surrounding space is trimmed. A key shorter than 8
// characters, a bad tenant, or a key listed twice is an error wrapping
// ErrInvalid (the message never contains a key).
func ParseAPIKeys(text string) ([]APIKey, error) {
	var out []APIKey
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	var errs []error
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		tenant, key, ok := strings.Cut(s, ":")
		tenant, key = strings.TrimSpace(tenant), strings.TrimSpace(key)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: line %d: want tenant:key", ErrInvalid, line))
		case !ValidTenant(tenant):
			errs = append(errs, fmt.Errorf("%w: line %d: bad tenant %q", ErrInvalid, line, tenant))
		case len(key) < 8 || strings.ContainsAny(key, " \t"):
			errs = append(errs, fmt.Errorf("%w: line %d: key for tenant %q must be ≥ 8 characters without spaces", ErrInvalid, line, tenant))
		case seen[key]:
			errs = append(errs, fmt.Errorf("%w: line %d: key for tenant %q is listed twice", ErrInvalid, line, tenant))
		default:
			seen[key] = true
			out = append(out, APIKey{Tenant: tenant, Key: key})
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%w: %v", ErrInvalid, err))
	}
	return out, errors.Join(errs...)
}

// LoadAPIKeys returns the keys of APIKeysFile followed by those of APIKeys.
func (p Producer) LoadAPIKeys() ([]APIKey, error) {
	var text string
	if p.APIKeysFile != "" {
		b, err := os.ReadFile(p.APIKeysFile)
		if err != nil {
			return nil, fmt.Errorf("config: api keys file: %w", err)
		}
		text = string(b)
	}
	text += "\n" + strings.ReplaceAll(p.APIKeys, ",", "\n")
	return ParseAPIKeys(text)
}

// String renders p with secrets redacted.
func (p Producer) String() string { return format(p) }

// GoString keeps %#v from printing secrets.
func (p Producer) GoString() string { return format(p) }

// LogValue renders p for slog with secrets redacted.
func (p Producer) LogValue() slog.Value { return logValue(p) }

var (
	_ fmt.Stringer   = Producer{}
	_ slog.LogValuer = Producer{}
)

var streamRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func commonValidate(n NATS, r Redis, s S3, l Log) []error {
	var errs []error
	errs = append(errs, positive("ack_wait", n.AckWait))
	if n.MaxDeliver < 1 {
		errs = append(errs, fieldErr("max_deliver", "must be ≥ 1, got %d", n.MaxDeliver))
	}
	if n.MaxAckPending < 1 {
		errs = append(errs, fieldErr("max_ack_pending", "must be ≥ 1, got %d", n.MaxAckPending))
	}
	if strings.TrimSpace(n.NATSURL) == "" {
		errs = append(errs, fieldErr("nats_url", "must not be empty"))
	}
	for raw := range strings.SplitSeq(n.NATSURL, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			errs = append(errs, fieldErr("nats_url", "%q is not a URL like nats://host:4222", raw))
			continue
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			errs = append(errs, fieldErr("nats_url", "%q: scheme must be nats, tls, ws or wss", raw))
		}
	}
	if !streamRE.MatchString(n.NATSStream) {
		errs = append(errs, fieldErr("nats_stream", "%q: want letters, digits, '_' or '-'", n.NATSStream))
	}
	if n.NATSReplicas < 1 || n.NATSReplicas > 5 {
		errs = append(errs, fieldErr("nats_replicas", "must be 1..5, got %d", n.NATSReplicas))
	}
	errs = append(errs, r.validate()...)
	if r.RedisDB < 0 {
		errs = append(errs, fieldErr("redis_db", "must be ≥ 0, got %d", r.RedisDB))
	}
	errs = append(errs, positive("status_ttl", r.StatusTTL))
	if strings.Contains(s.S3Endpoint, "://") || strings.Contains(s.S3Endpoint, "/") {
		errs = append(errs, fieldErr("s3_endpoint", "%q: want host:port without scheme or path (use s3_use_tls)", s.S3Endpoint))
	} else {
		errs = append(errs, hostPort("s3_endpoint", s.S3Endpoint))
	}
	if (s.S3AccessKey == "") != (s.S3SecretKey == "") {
		errs = append(errs, fieldErr("s3_secret_key", "s3_access_key and s3_secret_key must be set together"))
	}
	if !job.ValidBucket(s.S3Bucket) {
		errs = append(errs, fieldErr("s3_bucket", "%q is not a valid bucket name", s.S3Bucket))
	}
	if s.S3Region == "" {
		errs = append(errs, fieldErr("s3_region", "must not be empty"))
	}
	errs = append(errs, l.validate()...)
	return errs
}

func positive(key string, d time.Duration) error {
	if d <= 0 {
		return fieldErr(key, "must be > 0, got %s", d)
	}
	return nil
}

// hostPort requires host:port with a non-empty host.
func hostPort(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return fieldErr(key, "%q is not host:port", addr)
	}
	return nil
}

// validAddr accepts a listen address: host:port or :port.
func validAddr(key, addr string) error {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fieldErr(key, "%q is not a listen address like :8080", addr)
	}
	return nil
}
