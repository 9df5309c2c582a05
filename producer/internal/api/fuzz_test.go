package api

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
)

// recordingJobs is the seam for fuzzing the request decoders: it records
// what the API decoded and refuses it, so no server is needed.
type recordingJobs struct{ last client.SubmitRequest }

func (r *recordingJobs) Submit(_ context.Context, req client.SubmitRequest) (status.Record, error) {
	r.last = req
	if req.Image != nil {
		if _, err := io.Copy(io.Discard, req.Image); err != nil {
			return status.Record{}, err
		}
	}
	return status.Record{}, client.ErrInvalidRequest
}
func (r *recordingJobs) Get(context.Context, string) (status.Record, error) {
	return status.Record{}, client.ErrNotFound
}
func (r *recordingJobs) Watch(context.Context, string) (<-chan status.Record, error) {
	return nil, client.ErrNotFound
}
func (r *recordingJobs) Cancel(context.Context, string) (status.Record, error) {
	return status.Record{}, client.ErrNotFound
}
func (r *recordingJobs) ResultURLs(context.Context, status.Record) ([]client.ResultFile, error) {
	return nil, nil
}
func (r *recordingJobs) Ready(context.Context) map[string]error { return nil }
func (r *recordingJobs) List(context.Context, string, string, int) ([]status.Record, string, error) {
	return nil, "", nil
}
func (r *recordingJobs) OpenInput(context.Context, status.Record) (io.ReadCloser, storage.ObjectInfo, error) {
	return nil, storage.ObjectInfo{}, client.ErrFileNotFound
}
func (r *recordingJobs) OpenResult(context.Context, status.Record, string) (io.ReadCloser, storage.ObjectInfo, error) {
	return nil, storage.ObjectInfo{}, client.ErrFileNotFound
}

func fuzzServer(t testing.TB) (*Server, *recordingJobs) {
	jobs := &recordingJobs{}
	s, err := New(jobs, Options{Keys: []config.APIKey{{Tenant: "acme", Key: "key-acme-0001"}}, MaxUploadBytes: 1 << 10})
	require.NoError(t, err)
	return s, jobs
}

// FuzzSubmitBody feeds arbitrary bodies as JSON and as multipart; the API
// must answer 4xx with a JSON error (never 5xx, never panic) and never hand
// an image larger than the limit to Submit.
func FuzzSubmitBody(f *testing.F) {
	f.Add([]byte(`{"input":{"key":"inputs/acme/a.jpg"},"options":{"uv_size":512}}`), "image", []byte(`{"geometry":true}`))
	f.Add([]byte(`{"input":{}}`), "options", []byte(`{"x":1}`))
	f.Add([]byte(`[]`), "priority", []byte(`high`))
	f.Fuzz(func(t *testing.T, body []byte, field string, value []byte) {
		s, jobs := fuzzServer(t)
		h := s.Handler()
		for _, ct := range []string{"application/json", "multipart/form-data; boundary=xyz"} {
			req := httptest.NewRequest("POST", "/v1/jobs", bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("X-API-Key", "key-acme-0001")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			require.GreaterOrEqual(t, w.Code, 400)
			require.Less(t, w.Code, 500, w.Body.String())
			require.Contains(t, w.Body.String(), `"code"`)
		}
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, err := mw.CreateFormField(field)
		require.NoError(t, err)
		_, _ = fw.Write(value)
		if field != "image" {
			iw, err := mw.CreateFormFile("image", "a.jpg")
			require.NoError(t, err)
			_, _ = iw.Write(body)
		}
		require.NoError(t, mw.Close())
		req := httptest.NewRequest("POST", "/v1/jobs", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer key-acme-0001")
		w := httptest.NewRecorder()
		jobs.last = client.SubmitRequest{}
		h.ServeHTTP(w, req)
		require.Less(t, w.Code, 500, w.Body.String())
		if w.Code == http.StatusRequestEntityTooLarge {
			require.Nil(t, jobs.last.Image)
		}
		if jobs.last.Image != nil {
			require.Equal(t, "acme", jobs.last.Tenant)
		}
	})
}

func BenchmarkKeyringTenant(b *testing.B) {
	var keys []config.APIKey
	for i := range 100 {
		keys = append(keys, config.APIKey{Tenant: "t", Key: "key-" + string(rune('a'+i%26)) + "-0000000" + string(rune('0'+i%10)) + string(rune('a'+i/26))})
	}
	k := newKeyring(keys)
	for b.Loop() {
		if _, ok := k.tenant(keys[50].Key); !ok {
			b.Fatal("not found")
		}
	}
}

func TestKeyring(t *testing.T) {
	t.Parallel()
	k := newKeyring([]config.APIKey{{Tenant: "a", Key: "key-a-00001"}, {Tenant: "b", Key: "key-b-00001"}})
	tenant, ok := k.tenant("key-b-00001")
	require.True(t, ok)
	require.Equal(t, "b", tenant)
	_, ok = k.tenant("key-b-0000")
	require.False(t, ok)
	_, ok = k.tenant("")
	require.False(t, ok)
	require.False(t, validRequestID("has space"))
	require.True(t, validRequestID("abc-123"))
}
