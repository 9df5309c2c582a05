package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/producer/internal/api"
	"github.com/facefleet/facefleet/producer/internal/testenv"
	"github.com/facefleet/facefleet/shared/job"
)

func TestOptionsDescribeJobOptions(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	resp, data := b.do(t, "GET", "/v1/options", "", nil, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "unauthorized", errorCode(t, data))

	resp, data = b.do(t, "GET", "/v1/options", keyGlobex, nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	var v api.OptionsView
	require.NoError(t, json.Unmarshal(data, &v))
	require.Equal(t, "globex", v.Tenant)
	require.Equal(t, job.Priorities(), v.Priorities)
	require.Equal(t, job.PriorityNormal, v.DefaultPriority)
	require.Equal(t, b.env.Config.MaxUploadBytes, v.MaxUploadBytes)

	// Every scalar field of job.Options is described, in order, with the
	// default the job package applies.
	var defaults map[string]any
	raw, err := json.Marshal(job.DefaultOptions())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &defaults))
	var want []string
	ty := reflect.TypeFor[job.Options]()
	for i := range ty.NumField() {
		f := ty.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch f.Type.Kind() {
		case reflect.Bool, reflect.Int, reflect.String, reflect.Pointer:
			want = append(want, name)
		}
	}
	var got []string
	byName := map[string]api.OptionField{}
	for _, o := range v.Options {
		got = append(got, o.Name)
		byName[o.Name] = o
		if d, ok := defaults[o.Name]; ok {
			require.Equal(t, d, o.Default, o.Name)
		}
	}
	require.Equal(t, want, got)
	require.Equal(t, "bool", byName["geometry"].Type)
	require.Equal(t, "enum", byName["detector"].Type)
	require.Equal(t, []string{job.DetectorShort, job.DetectorFull}, byName["detector"].Choices)
	require.Equal(t, job.DefaultDetector, byName["detector"].Default)
	require.Equal(t, job.MinUVSize, *byName["uv_size"].Min)
	require.Equal(t, job.MaxUVSize, *byName["uv_size"].Max)
	require.EqualValues(t, job.DefaultUVSize, byName["uv_size"].Default)
	require.Equal(t, job.MaxMaxFaces, *byName["max_faces"].Max)
	require.EqualValues(t, job.DefaultMaxFaces, byName["max_faces"].Default)
	require.Equal(t, "webhook", byName["webhook"].Type)
	require.Nil(t, byName["webhook"].Default)
	require.Equal(t, job.WebhookEvents(), byName["webhook"].Choices)
	require.Equal(t, job.DefaultWebhookEvents(), byName["webhook"].DefaultChoices)
}

type listJSON struct {
	Jobs []jobJSON `json:"jobs"`
	Next string    `json:"next"`
}

func TestListJobsPerTenantNewestFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	var acme []string // newest first
	for range 3 {
		acme = append([]string{b.submit(t, keyAcme).ID}, acme...)
		time.Sleep(2 * time.Millisecond)
	}
	globex := b.submit(t, keyGlobex).ID

	list := func(key, query string) listJSON {
		t.Helper()
		resp, data := b.do(t, "GET", "/v1/jobs"+query, key, nil, "")
		require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
		var l listJSON
		require.NoError(t, json.Unmarshal(data, &l))
		return l
	}
	ids := func(l listJSON) []string {
		var out []string
		for _, j := range l.Jobs {
			out = append(out, j.ID)
		}
		return out
	}
	all := list(keyAcme, "")
	require.Equal(t, acme, ids(all))
	require.Empty(t, all.Next)
	for _, j := range all.Jobs {
		require.Equal(t, "acme", j.Tenant)
		require.Equal(t, "queued", j.State)
	}
	require.Equal(t, []string{globex}, ids(list(keyGlobex, "")))

	p1 := list(keyAcme, "?limit=2")
	require.Equal(t, acme[:2], ids(p1))
	require.Equal(t, acme[1], p1.Next)
	p2 := list(keyAcme, "?limit=2&before="+p1.Next)
	require.Equal(t, acme[2:], ids(p2))
	require.Empty(t, p2.Next)

	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?before=" + strings.Repeat("a", 65)} {
		resp, data := b.do(t, "GET", "/v1/jobs"+q, keyAcme, nil, "")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		require.Equal(t, "bad_request", errorCode(t, data), q)
	}
	resp, data := b.do(t, "GET", "/v1/jobs", "", nil, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, "unauthorized", errorCode(t, data))
}

func TestJobInputAndResultFiles(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	j := b.submit(t, keyAcme)
	img := testenv.FaceJPEG(t)

	resp, data := b.do(t, "GET", "/v1/jobs/"+j.ID+"/input", keyAcme, nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
	require.True(t, bytes.Equal(img, data), "the uploaded bytes come back")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	// Before the job succeeds there are no results.
	resp, data = b.do(t, "GET", "/v1/jobs/"+j.ID+"/results/result.json", keyAcme, nil, "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, "not_found", errorCode(t, data))

	st := b.c.Status()
	_, err := st.Start(b.ctx, j.ID, "w1", "cpu", 1)
	require.NoError(t, err)
	glb := "results/" + j.ID + "/face-0/mesh.glb"
	require.NoError(t, b.c.Storage().PutBytes(b.ctx, glb, []byte("glTF-bytes"), ""))
	// Present in the bucket but not one of the job's outputs.
	require.NoError(t, b.c.Storage().PutBytes(b.ctx, "results/"+j.ID+"/stray.png", []byte("x"), ""))
	_, err = st.Succeed(b.ctx, j.ID, []string{glb, "results/" + j.ID + "/face-0/gone.png"}, nil)
	require.NoError(t, err)

	resp, data = b.do(t, "GET", "/v1/jobs/"+j.ID+"/results/face-0/mesh.glb", keyAcme, nil, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	require.Equal(t, "glTF-bytes", string(data))
	require.Equal(t, "model/gltf-binary", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Cache-Control"), "private")

	for _, name := range []string{"stray.png", "face-0/gone.png", "../" + j.ID + "/face-0/mesh.glb", "face-0/%2e%2e/stray.png", "nope"} {
		resp, data = b.do(t, "GET", "/v1/jobs/"+j.ID+"/results/"+name, keyAcme, nil, "")
		require.Equal(t, http.StatusNotFound, resp.StatusCode, name)
		require.Equal(t, "not_found", errorCode(t, data), name)
	}
	// Another tenant gets 404 for both, like for an unknown job.
	for _, p := range []string{"/input", "/results/face-0/mesh.glb"} {
		resp, data = b.do(t, "GET", "/v1/jobs/"+j.ID+p, keyGlobex, nil, "")
		require.Equal(t, http.StatusNotFound, resp.StatusCode, p)
		require.Equal(t, "not_found", errorCode(t, data))
	}
}

func TestConsoleMountedAtRoot(t *testing.T) {
	t.Parallel()
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("console " + r.URL.Path)) })
	s, err := api.New((*client.Client)(nil), api.Options{Keys: []config.APIKey{{Tenant: "acme", Key: keyAcme}}, Console: page})
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String()
	}
	code, body := get("/")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "console /", body)
	code, body = get("/assets/app.js")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "console /assets/app.js", body)
	code, body = get("/nope")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, body, "not_found")
	code, _ = get("/v1/options")
	require.Equal(t, http.StatusUnauthorized, code, "the API stays behind its keys")
}
