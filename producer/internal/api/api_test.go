package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/producer/internal/api"
	"github.com/facefleet/facefleet/producer/internal/testenv"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

const (
	keyAcme   = "key-acme-0001"
	keyGlobex = "key-globex-0001"
)

type bundle struct {
	env *testenv.Env
	c   *client.Client
	api *api.Server
	srv *httptest.Server
	ctx context.Context
}

func setup(t *testing.T, maxUpload int64) *bundle {
	t.Helper()
	env := testenv.New(t)
	ctx := testenv.Context(t, 30*time.Second)
	cfg := env.Config
	if maxUpload > 0 {
		cfg.MaxUploadBytes = maxUpload
	}
	c, err := client.New(ctx, cfg, client.WithLogger(testenv.Logger(t)))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	s, err := api.New(c, api.Options{
		Keys:           []config.APIKey{{Tenant: "acme", Key: keyAcme}, {Tenant: "globex", Key: keyGlobex}},
		MaxUploadBytes: cfg.MaxUploadBytes,
		Logger:         testenv.Logger(t),
		SSEHeartbeat:   50 * time.Millisecond,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &bundle{env: env, c: c, api: s, srv: srv, ctx: ctx}
}

func (b *bundle) do(t *testing.T, method, path, key string, body io.Reader, contentType string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(b.ctx, method, b.srv.URL+path, body)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, data
}

func multipartBody(t *testing.T, image []byte, options string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if options != "" {
		require.NoError(t, mw.WriteField("options", options))
	}
	fw, err := mw.CreateFormFile("image", "face.jpg")
	require.NoError(t, err)
	_, err = fw.Write(image)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return &buf, mw.FormDataContentType()
}

type apiError struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

func errorCode(t *testing.T, data []byte) string {
	t.Helper()
	var e apiError
	require.NoError(t, json.Unmarshal(data, &e), string(data))
	require.NotEmpty(t, e.Error.Message)
	require.NotEmpty(t, e.Error.RequestID)
	return e.Error.Code
}

type jobJSON struct {
	ID      string              `json:"id"`
	Tenant  string              `json:"tenant"`
	State   string              `json:"state"`
	Input   string              `json:"input"`
	Results []client.ResultFile `json:"results"`
}

func (b *bundle) submit(t *testing.T, key string) jobJSON {
	t.Helper()
	body, ct := multipartBody(t, testenv.FaceJPEG(t), `{"geometry":true,"uv_size":512,"uv_format":"jpeg"}`)
	resp, data := b.do(t, "POST", "/v1/jobs", key, body, ct)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(data))
	var j jobJSON
	require.NoError(t, json.Unmarshal(data, &j))
	require.Equal(t, "/v1/jobs/"+j.ID, resp.Header.Get("Location"))
	return j
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	j := b.submit(t, keyAcme)
	require.Equal(t, "acme", j.Tenant)
	require.Equal(t, "queued", j.State)

	resp, data := b.do(t, "GET", "/v1/jobs/"+j.ID, "", nil, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "unauthorized", errorCode(t, data))
	require.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))

	resp, data = b.do(t, "GET", "/v1/jobs/"+j.ID, "key-wrong-0001", nil, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "unauthorized", errorCode(t, data))

	// X-API-Key works too.
	req, _ := http.NewRequestWithContext(b.ctx, "GET", b.srv.URL+"/v1/jobs/"+j.ID, nil)
	req.Header.Set("X-API-Key", keyAcme)
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	require.Equal(t, http.StatusOK, r2.StatusCode)

	// Another tenant sees nothing: 404 exactly like an unknown job.
	for _, m := range []string{"GET /v1/jobs/" + j.ID, "DELETE /v1/jobs/" + j.ID, "GET /v1/jobs/" + j.ID + "/events",
		"GET /v1/jobs/0190a0a0-0000-7000-8000-000000000000"} {
		method, path, _ := strings.Cut(m, " ")
		resp, data := b.do(t, method, path, keyGlobex, nil, "")
		require.Equal(t, http.StatusNotFound, resp.StatusCode, m)
		require.Equal(t, "not_found", errorCode(t, data), m)
	}
	rec, err := b.c.Get(b.ctx, j.ID)
	require.NoError(t, err)
	require.Equal(t, status.StateQueued, rec.State, "the other tenant's DELETE changed nothing")
}

func TestSubmitMultipartAndGet(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	j := b.submit(t, keyAcme)
	require.True(t, strings.HasPrefix(j.Input, "inputs/acme/"+j.ID+"/"), j.Input)

	resp, data := b.do(t, "GET", "/v1/jobs/"+j.ID, keyAcme, nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got map[string]any
	require.NoError(t, json.Unmarshal(data, &got))
	require.Equal(t, "queued", got["state"])
	require.Equal(t, map[string]any{"geometry": true, "head": false, "uv_size": 512.0, "uv_format": "jpeg", "detector": "short", "max_faces": float64(job.DefaultMaxFaces)}, got["options"])
	require.NotContains(t, got, "results")
	require.NotEmpty(t, resp.Header.Get("X-Request-ID"))
}

func TestSubmitErrors(t *testing.T) {
	t.Parallel()
	img := testenv.FaceJPEG(t)
	b := setup(t, int64(len(img))-1)
	body, ct := multipartBody(t, img, "")
	resp, data := b.do(t, "POST", "/v1/jobs", keyAcme, body, ct)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, "upload_too_large", errorCode(t, data))

	small := img[:1000] // still sniffs as JPEG; decoding is the worker's business
	for opts, want := range map[string]string{
		`{"uv_size":100}`:     "invalid_options",
		`{"detector":"far"}`:  "invalid_options",
		`{"uv_format":"gif"}`: "invalid_options",
		`{"colour":"blue"}`:   "invalid_options",
		`{"geometry":`:        "invalid_options",
	} {
		body, ct := multipartBody(t, small, opts)
		resp, data := b.do(t, "POST", "/v1/jobs", keyAcme, body, ct)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, opts)
		require.Equal(t, want, errorCode(t, data), opts)
	}

	body, ct = multipartBody(t, []byte("definitely not an image"), "")
	resp, data = b.do(t, "POST", "/v1/jobs", keyAcme, body, ct)
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	require.Equal(t, "image_unsupported_format", errorCode(t, data))

	resp, data = b.do(t, "POST", "/v1/jobs", keyAcme, strings.NewReader("x"), "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	require.Equal(t, "unsupported_media_type", errorCode(t, data))

	resp, data = b.do(t, "POST", "/v1/jobs", keyAcme, strings.NewReader(`{"input":{"key":"inputs/globex/a.jpg"}}`), "application/json")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "invalid_input", errorCode(t, data))

	resp, data = b.do(t, "POST", "/v1/jobs", keyAcme, strings.NewReader(`{"input":{"key":"inputs/acme/a.jpg"},"extra":1}`), "application/json")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "bad_request", errorCode(t, data))

	resp, data = b.do(t, "POST", "/v1/jobs", keyAcme, strings.NewReader(`{"input":{"key":"inputs/acme/none.jpg"}}`), "application/json")
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, "input_not_found", errorCode(t, data))
}

func TestSubmitJSONExistingKey(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	img := testenv.FaceJPEG(t)
	key := client.TenantInputPrefix("acme") + "upload-1/face.jpg"
	require.NoError(t, b.c.Storage().PutBytes(b.ctx, key, img, "image/jpeg"))
	resp, data := b.do(t, "POST", "/v1/jobs", keyAcme,
		strings.NewReader(`{"input":{"key":"`+key+`"},"options":{"max_faces":2},"priority":"low"}`), "application/json")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(data))
	var j jobJSON
	require.NoError(t, json.Unmarshal(data, &j))
	require.Equal(t, key, j.Input)
}

func TestEventsCancelAndResults(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	j := b.submit(t, keyAcme)

	req, err := http.NewRequestWithContext(b.ctx, "GET", b.srv.URL+"/v1/jobs/"+j.ID+"/events", nil)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", keyAcme)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	events := make(chan jobJSON, 16)
	pings := make(chan struct{}, 64)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if line == ": ping" {
				select {
				case pings <- struct{}{}:
				default:
				}
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var ev jobJSON
				if json.Unmarshal([]byte(data), &ev) == nil {
					events <- ev
				}
			}
		}
	}()
	next := func() jobJSON {
		t.Helper()
		select {
		case ev, ok := <-events:
			require.True(t, ok, "stream ended early")
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return jobJSON{}
	}
	require.Equal(t, "queued", next().State)
	select {
	case <-pings:
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}
	st := b.c.Status()
	_, err = st.Start(b.ctx, j.ID, "w1", "cpu", 1)
	require.NoError(t, err)
	require.Equal(t, "running", next().State)
	out := "results/" + j.ID + "/result.json"
	require.NoError(t, b.c.Storage().PutBytes(b.ctx, out, []byte(`{"faces":[]}`), ""))
	_, err = st.Succeed(b.ctx, j.ID, []string{out}, nil)
	require.NoError(t, err)
	final := next()
	require.Equal(t, "succeeded", final.State)
	require.Len(t, final.Results, 1)
	_, open := <-events
	require.False(t, open, "the stream ends at the terminal state")

	r2, data := b.do(t, "GET", "/v1/jobs/"+j.ID, keyAcme, nil, "")
	require.Equal(t, http.StatusOK, r2.StatusCode)
	var got jobJSON
	require.NoError(t, json.Unmarshal(data, &got))
	require.Len(t, got.Results, 1)
	require.Equal(t, "result.json", got.Results[0].Name)
	fetched, err := http.Get(got.Results[0].URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(fetched.Body)
	fetched.Body.Close()
	require.Equal(t, `{"faces":[]}`, string(body))

	// Cancel: a finished job conflicts, a queued one is canceled.
	r3, data := b.do(t, "DELETE", "/v1/jobs/"+j.ID, keyAcme, nil, "")
	require.Equal(t, http.StatusConflict, r3.StatusCode)
	require.Equal(t, "conflict", errorCode(t, data))
	j2 := b.submit(t, keyAcme)
	r4, data := b.do(t, "DELETE", "/v1/jobs/"+j2.ID, keyAcme, nil, "")
	require.Equal(t, http.StatusOK, r4.StatusCode)
	var canceled jobJSON
	require.NoError(t, json.Unmarshal(data, &canceled))
	require.Equal(t, "canceled", canceled.State)
}

func TestOpsEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	resp, data := b.do(t, "GET", "/healthz", "", nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"status":"ok"}`, string(data))
	resp, data = b.do(t, "GET", "/readyz", "", nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	b.submit(t, keyAcme)
	b.do(t, "GET", "/v1/jobs/x", "", nil, "")
	resp, data = b.do(t, "GET", "/metrics", "", nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(data), `facefleet_api_requests_total{code="202",route="POST /v1/jobs"} 1`)
	require.Contains(t, string(data), `facefleet_api_auth_failures_total 1`)
	require.Contains(t, string(data), `facefleet_api_jobs_submitted_total{priority="normal"} 1`)

	req, _ := http.NewRequestWithContext(b.ctx, "GET", b.srv.URL+"/healthz", nil)
	req.Header.Set("X-Request-ID", "trace-abc-123")
	r2, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r2.Body.Close()
	require.Equal(t, "trace-abc-123", r2.Header.Get("X-Request-ID"))

	resp, data = b.do(t, "GET", "/nope", "", nil, "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "not_found", errorCode(t, data))

	b.env.Redis.Server.Stop()
	resp, data = b.do(t, "GET", "/readyz", "", nil, "")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, string(data), `"redis"`)
}

// TestOpenAPIMatchesRoutes checks that docs/openapi.yaml documents exactly the
// routes the server registers.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../docs/openapi.yaml")
	require.NoError(t, err)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3.1"), doc.OpenAPI)
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	s, err := api.New(nil, api.Options{})
	require.NoError(t, err)
	var served []string
	for _, r := range s.Routes() {
		served = append(served, strings.ReplaceAll(r, "...}", "}")) // {name...} is {name} in OpenAPI
	}
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, documented, served)
}
