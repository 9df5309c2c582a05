package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/shared/toolcheck"
)

// TestThirdPartyContract drives the real local stack (`localstack up`: NATS,
// S3, Redis, the producer API and a worker as processes) only with clients
// facefleet did not write and with what docs/CONTRACT.md says: minio-go for
// S3, a plain nats.go core publish and the real `nats` CLI for NATS, go-redis
// raw commands for Redis, net/http for the API and an HTTP server of its own
// that checks webhook signatures with its own HMAC code. The only facefleet
// code it calls is the stack's binaries.
func TestThirdPartyContract(t *testing.T) {
	t.Parallel()
	requireTools(t)
	natsCLI, err := exec.LookPath("nats")
	if err != nil {
		toolcheck.Missing(t, "the nats CLI is not on PATH: run `make setup` (go install github.com/nats-io/natscli/nats@v0.5.0)")
	}
	bin := binaries(t)
	var pt ports
	for try := 0; ; try++ {
		pt = freePorts(t)
		p := startLocalstack(t, bin, append([]string{"up", "--data", t.TempDir()}, pt.flags()...)...)
		if p.waitFor(t, "try: bin/producer submit", 4*time.Minute) || try == 2 || !strings.Contains(p.errors(), "is in use") {
			break
		}
		t.Logf("retrying with other ports: %s", p.errors())
	}
	ctx := testkit.Context(t, 5*time.Minute)
	natsURL := "nats://" + hostPort(pt.nats)
	apiURL := "http://" + hostPort(pt.api)

	// The foreign clients.
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	rdb := redis.NewClient(&redis.Options{Addr: hostPort(pt.redis)})
	t.Cleanup(func() { _ = rdb.Close() })
	s3, err := minio.New(hostPort(pt.s3), &minio.Options{Creds: credentials.NewStaticV4("facefleet", "facefleet-secret", ""),
		Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	require.NoError(t, err)
	photo, err := os.ReadFile(sample(t, "ddfa_jianzhuguo.jpg"))
	require.NoError(t, err)
	rcv := newContractReceiver(t)

	upload := func(id string) string {
		key := "inputs/local/" + id + "/photo.jpg"
		_, err := s3.PutObject(ctx, "facefleet", key, bytes.NewReader(photo), int64(len(photo)), minio.PutObjectOptions{ContentType: "image/jpeg"})
		require.NoError(t, err)
		return key
	}
	newID := func() string { return uuid.Must(uuid.NewV7()).String() }
	now := time.Now().UTC().Format(time.RFC3339)

	// A: no options at all, plain core publish with Nats-Msg-Id.
	idA := newID()
	msgA := fmt.Sprintf(`{"version":1,"id":%q,"tenant":"local","input":{"bucket":"facefleet","key":%q},"submitted_at":%q}`,
		idA, upload(idA), now)
	pub := nats.NewMsg("facefleet.jobs.normal")
	pub.Data = []byte(msgA)
	pub.Header.Set("Nats-Msg-Id", idA)
	require.NoError(t, nc.PublishMsg(pub))
	require.NoError(t, nc.Flush())

	// B: some options and a webhook, published by the nats CLI to JetStream.
	idB := newID()
	msgB := fmt.Sprintf(`{"version":1,"id":%q,"tenant":"local","input":{"bucket":"facefleet","key":%q},`+
		`"options":{"geometry":true,"uv_size":256,"webhook":{"url":%q,"events":["started","succeeded"]}},`+
		`"priority":"high","submitted_at":%q}`, idB, upload(idB), rcv.srv.URL+"/hooks", now)
	out, err := exec.CommandContext(ctx, natsCLI, "--server", natsURL, "pub", "--jetstream", "facefleet.jobs.high", msgB,
		"-H", "Nats-Msg-Id:"+idB).CombinedOutput()
	require.NoError(t, err, "nats pub: %s", out)
	t.Logf("nats pub: %s", strings.TrimSpace(string(out)))

	// The malformed corpus, plain core publishes.
	idVersion, idKey := newID(), newID()
	corpus := map[string][]byte{
		"not json":        []byte("this is not json {"),
		"unknown version": fmt.Appendf(nil, `{"version":7,"id":%q,"tenant":"local"}`, idVersion),
		"60 KB garbage":   bytes.Repeat([]byte("garbage!"), 60<<10/8),
		"key with ..": fmt.Appendf(nil, `{"version":1,"id":%q,"tenant":"local","input":{"bucket":"facefleet","key":"inputs/local/../../etc/passwd"},"submitted_at":%q}`,
			idKey, now),
	}
	for name, data := range corpus {
		m := nats.NewMsg("facefleet.jobs.normal")
		m.Data = data
		m.Header.Set("X-Corpus", name)
		require.NoError(t, nc.PublishMsg(m))
	}
	require.NoError(t, nc.Flush())

	// Status over HTTP until both jobs finish.
	for _, id := range []string{idA, idB} {
		var view struct {
			State   string `json:"state"`
			Tenant  string `json:"tenant"`
			Results []struct{ Name, URL string }
		}
		require.Eventually(t, func() bool {
			req, _ := http.NewRequestWithContext(ctx, "GET", apiURL+"/v1/jobs/"+id, nil)
			req.Header.Set("Authorization", "Bearer local-dev-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return false
			}
			view.Results = nil
			return json.NewDecoder(resp.Body).Decode(&view) == nil && (view.State == "succeeded" || view.State == "failed")
		}, 3*time.Minute, 100*time.Millisecond, "job %s over HTTP", id)
		require.Equal(t, "succeeded", view.State, id)
		require.Equal(t, "local", view.Tenant)
		require.NotEmpty(t, view.Results)
	}

	// The Redis record itself.
	recA, err := rdb.HGetAll(ctx, "facefleet:job:"+idA).Result()
	require.NoError(t, err)
	require.Equal(t, "succeeded", recA["state"])
	require.Equal(t, "local", recA["tenant"])
	require.Equal(t, "inputs/local/"+idA+"/photo.jpg", recA["input"])
	var optsA map[string]any
	require.NoError(t, json.Unmarshal([]byte(recA["options"]), &optsA))
	for k, v := range map[string]any{"geometry": false, "uv_size": 1024.0, "uv_format": "png", "detector": "short", "max_faces": 16.0} {
		require.Equal(t, v, optsA[k], "omitted option %s is recorded with its documented default", k)
	}
	require.Equal(t, "100", recA["percent"])
	for _, f := range []string{"created_at", "started_at", "finished_at", "timings", "outputs", "revision"} {
		require.NotEmpty(t, recA[f], f)
	}
	ttl, err := rdb.PTTL(ctx, "facefleet:job:"+idA).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 167*time.Hour)
	recB, err := rdb.HGetAll(ctx, "facefleet:job:"+idB).Result()
	require.NoError(t, err)
	require.Equal(t, "succeeded", recB["state"])
	var optsB map[string]any
	require.NoError(t, json.Unmarshal([]byte(recB["options"]), &optsB))
	require.Equal(t, true, optsB["geometry"])
	require.EqualValues(t, 256, optsB["uv_size"])
	require.EqualValues(t, 16, optsB["max_faces"])

	// The results, listed in S3.
	list := func(id string) []string {
		var keys []string
		for obj := range s3.ListObjects(ctx, "facefleet", minio.ListObjectsOptions{Prefix: "results/" + id + "/", Recursive: true}) {
			require.NoError(t, obj.Err)
			keys = append(keys, strings.TrimPrefix(obj.Key, "results/"+id+"/"))
		}
		return keys
	}
	keysA, keysB := list(idA), list(idB)
	require.Contains(t, keysA, "result.json")
	require.Contains(t, keysA, "face-0/uv_texture.png")
	require.NotContains(t, keysA, "face-0/mesh.glb")
	for _, k := range []string{"result.json", "face-0/uv_texture.png", "face-0/mesh.glb", "face-0/mesh.obj", "face-0/depth.png"} {
		require.Contains(t, keysB, k)
	}
	t.Logf("results of the job without options: %v; with options: %v", keysA, keysB)

	// Every refused message is in the dead-letter stream, once, with its
	// reason, original headers and delivery count.
	dlq, err := js.Stream(ctx, "FACEFLEET_DLQ")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		info, err := dlq.Info(ctx)
		return err == nil && info.State.Msgs >= uint64(len(corpus))
	}, time.Minute, 50*time.Millisecond)
	info, err := dlq.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, len(corpus), info.State.Msgs, "one dead letter per refused message, nothing else")
	seen := map[string]bool{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		require.NoError(t, err)
		name := m.Header.Get("X-Corpus")
		require.NotEmpty(t, name, "original header kept")
		require.False(t, seen[name], "%s dead-lettered twice", name)
		seen[name] = true
		require.Equal(t, corpus[name], m.Data, name)
		require.NotEmpty(t, m.Header.Get("Facefleet-Dlq-Reason"), name)
		require.Equal(t, "invalid_job", m.Header.Get("Facefleet-Dlq-Code"), name)
		require.Equal(t, "1", m.Header.Get("Facefleet-Dlq-Deliveries"), name)
		t.Logf("dead letter %d (%s): %s", seq, name, m.Header.Get("Facefleet-Dlq-Reason"))
	}
	for _, id := range []string{idVersion, idKey} {
		rec, err := rdb.HGetAll(ctx, "facefleet:job:"+id).Result()
		require.NoError(t, err)
		require.Equal(t, "failed", rec["state"], id)
		require.Equal(t, "invalid_job", rec["error_code"], id)
		require.Equal(t, "local", rec["tenant"], id)
	}

	// The webhooks of job B: started, then succeeded — answered 500 first,
	// so retried under the same id with the same body.
	succeeded := rcv.wait(t, "job.succeeded", 2, time.Minute)
	started := rcv.wait(t, "job.started", 1, 10*time.Second)
	require.Equal(t, succeeded[0].body, succeeded[1].body)
	require.Equal(t, succeeded[0].id, succeeded[1].id)
	require.Equal(t, fmt.Sprintf("msg_%s_%s", idB, recB["revision"]), succeeded[0].id)
	require.NotEqual(t, started[0].id, succeeded[0].id)
	rcv.noConflicts(t)
	var payload struct {
		Type string `json:"type"`
		Data struct {
			ID      string `json:"id"`
			State   string `json:"state"`
			Results []struct{ Name, URL string }
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(succeeded[0].body), &payload))
	require.Equal(t, idB, payload.Data.ID)
	require.Equal(t, "succeeded", payload.Data.State)
	names := []string{}
	for _, r := range payload.Data.Results {
		names = append(names, r.Name)
		if r.Name == "face-0/mesh.glb" {
			resp, err := http.Get(r.URL)
			require.NoError(t, err)
			glb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.True(t, bytes.HasPrefix(glb, []byte("glTF")), "the presigned URL serves the mesh")
		}
	}
	require.Contains(t, names, "face-0/mesh.glb")
	finished, err := time.Parse(time.RFC3339Nano, recB["finished_at"])
	require.NoError(t, err)
	t.Logf("webhook job.succeeded: first attempt %v after finished_at (answered 500), retry %v later",
		succeeded[0].at.Sub(finished).Round(time.Millisecond), succeeded[1].at.Sub(succeeded[0].at).Round(time.Millisecond))
}

// contractReceiver is a webhook endpoint written from docs/CONTRACT.md: it
// verifies the Standard Webhooks signature with the local stack's secret,
// answers 500 to the first attempt of each job.succeeded, and keeps every
// attempt.
type contractReceiver struct {
	srv      *httptest.Server
	key      []byte
	mu       sync.Mutex
	attempts []contractAttempt
	t        *testing.T
}

type contractAttempt struct {
	id, typ, body string
	at            time.Time
}

func newContractReceiver(t *testing.T) *contractReceiver {
	// The secret as docs/CONTRACT.md gives it to readers.
	doc, err := os.ReadFile(filepath.Join(testkit.ModuleRoot(t), "docs", "CONTRACT.md"))
	require.NoError(t, err)
	secret := regexp.MustCompile("`(whsec_[A-Za-z0-9+/=]+)`").FindSubmatch(doc)
	require.NotNil(t, secret, "docs/CONTRACT.md names no local webhook secret")
	require.Equal(t, LocalWebhookSecret, string(secret[1]), "docs/CONTRACT.md gives another local secret than the stack uses")
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(secret[1]), "whsec_"))
	require.NoError(t, err)
	r := &contractReceiver{key: key, t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(req.Body)
		id, ts := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp")
		mac := hmac.New(sha256.New, r.key)
		mac.Write([]byte(id + "." + ts + "." + string(body)))
		if req.Header.Get("webhook-signature") != "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
			t.Errorf("webhook %s: signature does not verify", id)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var p struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &p)
		r.mu.Lock()
		first := true
		for _, a := range r.attempts {
			first = first && a.id != id
		}
		r.attempts = append(r.attempts, contractAttempt{id: id, typ: p.Type, body: string(body), at: at})
		r.mu.Unlock()
		if first && p.Type == "job.succeeded" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// wait returns the first n attempts of type typ.
func (r *contractReceiver) wait(t *testing.T, typ string, n int, timeout time.Duration) []contractAttempt {
	t.Helper()
	var got []contractAttempt
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		got = got[:0]
		for _, a := range r.attempts {
			if a.typ == typ {
				got = append(got, a)
			}
		}
		return len(got) >= n
	}, timeout, 20*time.Millisecond, "%d × %s", n, typ)
	sort.Slice(got, func(i, j int) bool { return got[i].at.Before(got[j].at) })
	return got[:n]
}

// noConflicts fails when a webhook-id came with two different bodies.
func (r *contractReceiver) noConflicts(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	bodies := map[string]string{}
	for _, a := range r.attempts {
		if b, ok := bodies[a.id]; ok {
			require.Equal(t, b, a.body, "webhook-id %s with two bodies", a.id)
		}
		bodies[a.id] = a.body
	}
}
