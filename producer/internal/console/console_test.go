package console

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/toolcheck"
)

func get(t *testing.T, h http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	return rr.Result()
}

func TestServesPageAndAssets(t *testing.T) {
	h := Handler()
	resp := get(t, h, "/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	require.Equal(t, CSP, resp.Header.Get("Content-Security-Policy"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	page, _ := io.ReadAll(resp.Body)

	// Every asset the page names is served, cached for good, and gzipped
	// when asked for.
	refs := regexp.MustCompile(`/assets/[A-Za-z0-9._-]+`).FindAllString(string(page), -1)
	require.Len(t, refs, 2, "the page loads one script and one style sheet")
	for _, ref := range refs {
		resp := get(t, h, ref)
		require.Equal(t, http.StatusOK, resp.StatusCode, ref)
		require.Contains(t, resp.Header.Get("Cache-Control"), "immutable")
		raw, _ := io.ReadAll(resp.Body)
		resp = get(t, h, ref, "Accept-Encoding", "br, gzip;q=0.8")
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"), ref)
		zr, err := gzip.NewReader(resp.Body)
		require.NoError(t, err)
		unz, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, raw, unz, ref)
		resp = get(t, h, ref, "Accept-Encoding", "gzip;q=0")
		require.Empty(t, resp.Header.Get("Content-Encoding"))
		resp = get(t, h, ref, "If-None-Match", resp.Header.Get("ETag"))
		require.Equal(t, http.StatusNotModified, resp.StatusCode)
	}
	require.Equal(t, http.StatusNotFound, get(t, h, "/assets/nope.js").StatusCode)
	require.Equal(t, http.StatusNotFound, get(t, h, "/index.html").StatusCode, "the page lives at / only")

	// The page never points outside its own origin.
	for p := range Files() {
		b, err := fs.ReadFile(dist, "dist"+p)
		require.NoError(t, err)
		require.NotRegexp(t, `(src|href)=["']?(https?:)?//`, string(b), p)
	}
}

// TestBundleMatchesSources rebuilds the console from web/ (node and the
// pinned packages: make setup runs npm ci there) and checks that the
// committed dist/ is exactly that build.
func TestBundleMatchesSources(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		toolcheck.Missing(t, "node not on PATH: run `make setup`")
		return
	}
	if _, err := os.Stat("web/node_modules/esbuild/package.json"); err != nil {
		toolcheck.Missing(t, "web/node_modules is missing: run `make setup` (npm ci in producer/internal/console/web)")
		return
	}
	out := filepath.Join(t.TempDir(), "dist")
	cmd := exec.Command("node", "build.mjs", "--out", out)
	cmd.Dir = "web"
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	want := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		want[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	}))
	got := map[string][]byte{}
	require.NoError(t, fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got[p[len("dist/"):]], err = fs.ReadFile(dist, p)
		return err
	}))
	var wantNames, gotNames []string
	for k := range want {
		wantNames = append(wantNames, k)
	}
	for k := range got {
		gotNames = append(gotNames, k)
	}
	require.ElementsMatch(t, wantNames, gotNames, "dist/ is stale: run `make console` and commit dist/")
	for k := range want {
		require.True(t, bytes.Equal(want[k], got[k]), "dist/%s differs from a rebuild: run `make console` and commit dist/", k)
	}
}

// TestPageWeight logs the first-load weight: the page, its script and its
// style sheet (the 3D viewer chunk loads only with a result).
func TestPageWeight(t *testing.T) {
	var raw, gz int
	for p, s := range Files() {
		t.Logf("%-32s %8d bytes, %7d gzipped", p, s[0], s[1])
		if filepath.Dir(p) == "/assets" && regexp.MustCompile(`^/assets/viewer-`).MatchString(p) {
			continue
		}
		raw += s[0]
		gz += s[1]
	}
	t.Logf("first load: %d bytes, %d gzipped", raw, gz)
	require.Positive(t, gz)
}
