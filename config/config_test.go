package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func envMap(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	w, err := LoadWorker(nil, nil)
	require.NoError(t, err)
	require.Equal(t, "nats://127.0.0.1:4222", w.NATSURL)
	require.Equal(t, "FACEFLEET_JOBS", w.NATSStream)
	require.Equal(t, 1, w.NATSReplicas)
	require.Equal(t, "127.0.0.1:6379", w.RedisAddr)
	require.Equal(t, 168*time.Hour, w.StatusTTL)
	require.Equal(t, "127.0.0.1:9000", w.S3Endpoint)
	require.Equal(t, "facefleet", w.S3Bucket)
	require.False(t, w.S3UseTLS)
	require.Equal(t, "us-east-1", w.S3Region)
	require.Equal(t, "info", w.LogLevel)
	require.Equal(t, "text", w.LogFormat)
	require.Equal(t, "cpu", w.Devices)
	require.Equal(t, "cuda", w.GPUProvider)
	require.Equal(t, "auto", w.Precision)
	require.Equal(t, 2, w.SlotsPerDevice)
	require.Equal(t, 25, w.GCPercent)
	require.Equal(t, 5*time.Minute, w.JobTimeout)
	require.Equal(t, 60*time.Second, w.DrainTimeout)
	require.Equal(t, 60*time.Second, w.AckWait)
	require.Equal(t, 5, w.MaxDeliver)
	require.Equal(t, ":8081", w.HTTPAddr)
	require.EqualValues(t, 33554432, w.MaxImageBytes)
	require.EqualValues(t, 50000000, w.MaxImagePixels)
	host, _ := os.Hostname()
	if host != "" {
		require.Equal(t, host, w.WorkerName)
	}

	p, err := LoadProducer(nil, nil)
	require.NoError(t, err)
	require.Equal(t, ":8080", p.HTTPAddr)
	require.EqualValues(t, 33554432, p.MaxUploadBytes)
	require.Equal(t, 15*time.Minute, p.PresignExpiry)
	require.Equal(t, "local", p.Tenant)
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	path := writeFile(t, `
nats_stream: FROM_FILE
redis_db: 2
log_level: debug
worker:
  slots_per_device: 3
  job_timeout: 90s
producer:
  tenant: from-file
`)
	env := envMap(map[string]string{
		"FACEFLEET_REDIS_DB":         "4",
		"FACEFLEET_SLOTS_PER_DEVICE": "5",
		"FACEFLEET_S3_USE_TLS":       "true",
	})
	w, err := LoadWorker([]string{"--config", path, "--slots-per-device=7", "--log-format", "json"}, env)
	require.NoError(t, err)
	require.Equal(t, "FROM_FILE", w.NATSStream, "file beats default")
	require.Equal(t, 4, w.RedisDB, "env beats file")
	require.Equal(t, 7, w.SlotsPerDevice, "flag beats env and file section")
	require.Equal(t, 90*time.Second, w.JobTimeout, "worker section applies to worker")
	require.True(t, w.S3UseTLS)
	require.Equal(t, "debug", w.LogLevel)
	require.Equal(t, "json", w.LogFormat)

	p, err := LoadProducer([]string{"-config=" + path}, env)
	require.NoError(t, err)
	require.Equal(t, "from-file", p.Tenant)
	require.Equal(t, 4, p.RedisDB)
}

func TestRegisterWithOwnFlags(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	wait := fs.Bool("wait", false, "")
	fl := RegisterProducer(fs)
	require.NoError(t, fs.Parse([]string{"--wait", "--tenant", "acme", "a.jpg", "b.jpg"}))
	p, err := fl.Load(nil)
	require.NoError(t, err)
	require.True(t, *wait)
	require.Equal(t, "acme", p.Tenant)
	require.Equal(t, []string{"a.jpg", "b.jpg"}, fs.Args())
}

func TestStrictFile(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"unknown top key":          "nats_ur: nats://x:4222\n",
		"producer key at top":      "tenant: x\n",
		"unknown in other section": "producer:\n  devices: cpu\n",
		"unknown in own section":   "worker:\n  tenant: x\n",
		"nested value":             "nats_url: {a: 1}\n",
		"bad type":                 "redis_db: two\n",
		"duplicate key":            "redis_db: 1\nredis_db: 2\n",
		"not yaml":                 "::: [",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadWorker([]string{"--config", writeFile(t, body)}, nil)
			require.Error(t, err)
			require.ErrorIs(t, err, ErrInvalid)
		})
	}
	_, err := LoadWorker([]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, nil)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestBadFlagsAndEnv(t *testing.T) {
	t.Parallel()
	_, err := LoadWorker([]string{"--slots-per-device", "x"}, nil)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = LoadWorker([]string{"--no-such-flag"}, nil)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = LoadWorker([]string{"stray"}, nil)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = LoadWorker(nil, envMap(map[string]string{"FACEFLEET_JOB_TIMEOUT": "soon"}))
	require.ErrorIs(t, err, ErrInvalid)
	require.Contains(t, err.Error(), "FACEFLEET_JOB_TIMEOUT")
}

func TestValidateReportsEverything(t *testing.T) {
	t.Parallel()
	env := envMap(map[string]string{
		"FACEFLEET_NATS_URL":         "http://x:1",
		"FACEFLEET_NATS_REPLICAS":    "0",
		"FACEFLEET_REDIS_ADDR":       "nohost",
		"FACEFLEET_S3_ENDPOINT":      "http://minio:9000",
		"FACEFLEET_S3_BUCKET":        "Bad_Bucket",
		"FACEFLEET_LOG_LEVEL":        "loud",
		"FACEFLEET_DEVICES":          "cuda:x,gpu",
		"FACEFLEET_PRECISION":        "int8",
		"FACEFLEET_SLOTS_PER_DEVICE": "0",
		"FACEFLEET_ACK_WAIT":         "0s",
	})
	_, err := LoadWorker(nil, env)
	require.ErrorIs(t, err, ErrInvalid)
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		require.ErrorAs(t, e, &fe)
		keys = append(keys, fe.Key)
	}
	require.ElementsMatch(t, []string{"nats_url", "nats_replicas", "redis_addr", "s3_endpoint", "s3_bucket",
		"log_level", "devices", "devices", "precision", "slots_per_device", "ack_wait"}, keys)

	_, err = LoadProducer(nil, envMap(map[string]string{
		"FACEFLEET_TENANT":         "a b",
		"FACEFLEET_PRESIGN_EXPIRY": "200h",
		"FACEFLEET_API_KEYS":       "t1:short",
		"FACEFLEET_HTTP_ADDR":      "8080",
	}))
	for _, key := range []string{"tenant", "presign_expiry", "api_keys", "http_addr"} {
		require.ErrorContains(t, err, "config: "+key+":")
	}
	require.NotContains(t, err.Error(), "short", "keys never appear in errors")
}

func TestDevices(t *testing.T) {
	t.Parallel()
	for devs, ok := range map[string]bool{"cpu": true, "all": true, "cuda:0,cuda:1": true, " CUDA:3 ": true,
		"all,cpu": false, "": false, "cuda:-1": false, "tpu": false} {
		_, err := LoadWorker([]string{"--devices", devs}, nil)
		if ok {
			require.NoError(t, err, devs)
		} else {
			require.ErrorIs(t, err, ErrInvalid, devs)
		}
	}
	w, err := LoadWorker([]string{"--devices", "cuda:0, cuda:1"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"cuda:0", "cuda:1"}, w.DeviceList())
}

func TestExamplesLoadAndValidate(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("examples/*.yaml")
	require.NoError(t, err)
	require.Len(t, paths, 3)
	for _, p := range paths {
		w, err := LoadWorker([]string{"--config", p}, nil)
		require.NoError(t, err, p)
		require.NoError(t, w.Validate())
		pr, err := LoadProducer([]string{"--config", p}, nil)
		require.NoError(t, err, p)
		require.NoError(t, pr.Validate())
	}
	w, err := LoadWorker([]string{"--config", "examples/cluster.yaml"}, nil)
	require.NoError(t, err)
	require.Equal(t, 3, w.NATSReplicas)
	require.Equal(t, "all", w.Devices)
	require.True(t, w.S3UseTLS)
}

func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	env := envMap(map[string]string{
		"FACEFLEET_REDIS_PASSWORD": "redis-pw-XYZ",
		"FACEFLEET_S3_SECRET_KEY":  "s3-secret-XYZ",
		"FACEFLEET_API_KEYS":       "acme:api-key-XYZ-123",
	})
	p, err := LoadProducer(nil, env)
	require.NoError(t, err)
	require.Equal(t, "s3-secret-XYZ", p.S3SecretKey)
	var buf bytes.Buffer
	p.Logger(&buf).Info("config", "cfg", p)
	Log{LogFormat: "json"}.Logger(&buf).Info("config", "cfg", p)
	keys, err := p.LoadAPIKeys()
	require.NoError(t, err)
	out := strings.Join([]string{p.String(), fmt.Sprintf("%v %+v %#v %s", p, p, p, keys), buf.String()}, "\n")
	require.NotContains(t, out, "XYZ")
	require.Contains(t, out, "[REDACTED]")
	require.Contains(t, out, "s3_access_key=facefleet")
	w, err := LoadWorker(nil, env)
	require.NoError(t, err)
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", w, w, w), "XYZ")
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := Log{LogLevel: "warn", LogFormat: "json"}.Logger(&buf)
	l.Info("hidden")
	l.Warn("shown", "job_id", "j1")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	require.Equal(t, "shown", rec["msg"])
	require.Equal(t, "j1", rec["job_id"])
	buf.Reset()
	Log{LogLevel: "debug", LogFormat: "text"}.Logger(&buf).Debug("dbg")
	require.Contains(t, buf.String(), "level=DEBUG msg=dbg")
	require.Equal(t, slog.LevelError, Log{LogLevel: "error"}.Level())
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	keys, err := ParseAPIKeys("# comment\n\nacme: key-acme-1\nglobex:key-globex-1\r\n")
	require.NoError(t, err)
	require.Equal(t, []APIKey{{"acme", "key-acme-1"}, {"globex", "key-globex-1"}}, keys)
	for _, bad := range []string{"nocolon", "a b:key-12345678", "t:short", "t:key-12345678\nu:key-12345678"} {
		_, err := ParseAPIKeys(bad)
		require.ErrorIs(t, err, ErrInvalid, bad)
	}
	file := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(file, []byte("acme:key-acme-file\n"), 0o600))
	p, err := LoadProducer([]string{"--api-keys-file", file, "--api-keys", "b:key-b-0001,c:key-c-0001"}, nil)
	require.NoError(t, err)
	keys, err = p.LoadAPIKeys()
	require.NoError(t, err)
	require.Equal(t, []APIKey{{"acme", "key-acme-file"}, {"b", "key-b-0001"}, {"c", "key-c-0001"}}, keys)
	p.APIKeysFile = filepath.Join(t.TempDir(), "missing")
	_, err = p.LoadAPIKeys()
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestMatchesArchitecture checks env names and defaults against the
// "Configuration" section of docs/ARCHITECTURE.md.
func TestMatchesArchitecture(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/ARCHITECTURE.md")
	require.NoError(t, err)
	text := string(doc)
	start := strings.Index(text, "## Configuration")
	require.GreaterOrEqual(t, start, 0)
	text = text[start:]
	if end := strings.Index(text[3:], "\n## "); end > 0 {
		text = text[:end+3]
	}
	re := regexp.MustCompile("`(FACEFLEET_[A-Z0-9_]+)`(?: \\(([^)]*)\\))?")
	documented := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		documented[m[1]] = m[2]
	}
	have := map[string]FieldInfo{}
	for _, f := range append(Fields[Worker](), Fields[Producer]()...) {
		have[f.Env] = f
	}
	for env, def := range documented {
		f, ok := have[env]
		require.True(t, ok, "documented %s has no field", env)
		switch {
		case def == "" || strings.Contains(def, "|") || strings.Contains(def, " ") || strings.Contains(def, "`"):
			// free text or a choice list: checked by the field's own tests
		case env == "FACEFLEET_HTTP_ADDR", env == "FACEFLEET_WORKER_NAME":
			// per binary / computed at load; checked in TestDefaults
		default:
			require.Equal(t, def, f.Default, env)
		}
	}
	for env := range have {
		_, ok := documented[env]
		require.True(t, ok, "%s is not documented in ARCHITECTURE.md", env)
	}
}

func TestFieldErrorIs(t *testing.T) {
	t.Parallel()
	err := fieldErr("k", "bad")
	require.True(t, errors.Is(err, ErrInvalid))
	require.Equal(t, "config: k: bad", err.Error())
}

// The producer's provision and the workers must provision identical
// consumers from the same settings.
func TestQueueConfigSameForBothBinaries(t *testing.T) {
	t.Parallel()
	env := envMap(map[string]string{
		"FACEFLEET_ACK_WAIT":        "90s",
		"FACEFLEET_MAX_DELIVER":     "7",
		"FACEFLEET_MAX_ACK_PENDING": "64",
		"FACEFLEET_NATS_STREAM":     "JOBS",
	})
	w, err := LoadWorker(nil, env)
	require.NoError(t, err)
	p, err := LoadProducer(nil, env)
	require.NoError(t, err)
	require.Equal(t, w.QueueConfig(), p.QueueConfig())
	q := p.QueueConfig()
	require.Equal(t, 90*time.Second, q.AckWait)
	require.Equal(t, 7, q.MaxDeliver)
	require.Equal(t, 64, q.MaxAckPending)
	require.Equal(t, "JOBS", q.Stream)

	_, err = LoadProducer(nil, envMap(map[string]string{"FACEFLEET_MAX_ACK_PENDING": "0"}))
	require.ErrorIs(t, err, ErrInvalid)
}

func TestParseInterspersed(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	geo := fs.Bool("geometry", false, "")
	n := fs.Int("n", 0, "")
	pos, err := ParseInterspersed(fs, []string{"a.jpg", "--geometry", "b.jpg", "-n", "3", "--", "-c.jpg"})
	require.NoError(t, err)
	require.Equal(t, []string{"a.jpg", "b.jpg", "-c.jpg"}, pos)
	require.True(t, *geo)
	require.Equal(t, 3, *n)

	_, err = ParseInterspersed(fs, []string{"a.jpg", "--nope"})
	require.Error(t, err)
}

func TestRedisTopologies(t *testing.T) {
	t.Parallel()
	load := func(env map[string]string) (Worker, error) { return LoadWorker(nil, envMap(env)) }
	w, err := load(map[string]string{"FACEFLEET_REDIS_ADDRS": "10.0.0.1:26379, 10.0.0.2:26379",
		"FACEFLEET_REDIS_MASTER_NAME": "mymaster", "FACEFLEET_REDIS_WAIT_REPLICAS": "1"})
	require.NoError(t, err)
	require.Equal(t, []string{"10.0.0.1:26379", "10.0.0.2:26379"}, w.RedisSeeds())
	require.Equal(t, "sentinel mymaster@10.0.0.1:26379,10.0.0.2:26379", w.RedisEndpoint())
	require.Equal(t, 1, w.StatusConfig().WaitReplicas)
	require.Equal(t, time.Second, w.StatusConfig().WaitTimeout)
	c := w.RedisClient()
	_, isFailover := c.(*redis.Client) // NewFailoverClient returns a *redis.Client
	require.True(t, isFailover)
	require.NoError(t, c.Close())

	w, err = load(map[string]string{"FACEFLEET_REDIS_CLUSTER": "true"})
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.1:6379"}, w.RedisSeeds())
	c = w.RedisClient()
	_, isCluster := c.(*redis.ClusterClient)
	require.True(t, isCluster)
	require.NoError(t, c.Close())

	_, err = load(map[string]string{"FACEFLEET_REDIS_MASTER_NAME": "m", "FACEFLEET_REDIS_CLUSTER": "true",
		"FACEFLEET_REDIS_DB": "2", "FACEFLEET_REDIS_WAIT_REPLICAS": "1", "FACEFLEET_REDIS_ADDRS": "nohost"})
	require.ErrorIs(t, err, ErrInvalid)
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if errors.As(e, &fe) {
			keys = append(keys, fe.Key)
		}
	}
	require.ElementsMatch(t, []string{"redis_addrs", "redis_cluster", "redis_db", "redis_wait_replicas"}, keys)
}
