// Package console is the facefleet web console: a single page (sign in with
// an API key, submit photos, follow the jobs live, look at the results in 2D
// and 3D) that the producer serves at / next to its API.
//
// The page is built from web/ (sources, package.json and package-lock.json
// pinning three.js and esbuild) by `make console` into dist/, which is
// committed and embedded here, so `go build` needs no Node.js and nothing is
// fetched at run time. TestBundleMatchesSources rebuilds it and compares.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed dist
var dist embed.FS

// CSP is the page's Content-Security-Policy: everything from the producer
// itself; images and the 3D model's textures may also be blob: URLs (files
// read through the API or dropped by the user).
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self' blob: data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; " +
	"form-action 'none'; frame-ancestors 'none'"

type file struct {
	body, gz []byte
	ctype    string
	etag     string
	cache    string
}

// Handler serves the embedded page: GET / is index.html, GET /assets/… the
// bundle (content-hashed names, cached for a year). Responses are gzipped
// for clients that accept it (compressed once, at start).
func Handler() http.Handler {
	h, err := newHandler(dist)
	if err != nil {
		panic(err) // the embedded files are fixed at build time; tests cover them
	}
	return h
}

type handler struct{ files map[string]*file }

func newHandler(fsys fs.FS) (*handler, error) {
	sub, err := fs.Sub(fsys, "dist")
	if err != nil {
		return nil, err
	}
	h := &handler{files: map[string]*file{}}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f := &file{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`,
			ctype: mime.TypeByExtension(path.Ext(p)), cache: "public, max-age=31536000, immutable"}
		if f.ctype == "" {
			f.ctype = "application/octet-stream"
		}
		if p == "index.html" {
			f.cache = "no-cache"
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			f.gz = buf.Bytes()
		}
		h.files["/"+p] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	if h.files["/index.html"] == nil {
		return nil, fmt.Errorf("console: dist/index.html is missing (run make console)")
	}
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/" {
		p = "/index.html"
	}
	f := h.files[p]
	if f == nil || p == "/index.html" && r.URL.Path != "/" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", f.cache)
	hd.Set("ETag", f.etag)
	hd.Set("Vary", "Accept-Encoding")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", CSP)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func acceptsGzip(ae string) bool {
	for part := range strings.SplitSeq(ae, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}

// Files lists the embedded files with their sizes, raw and gzipped (for
// tests and the page-weight figure).
func Files() map[string][2]int {
	h, err := newHandler(dist)
	if err != nil {
		return nil
	}
	out := map[string][2]int{}
	for p, f := range h.files {
		gz := len(f.body)
		if f.gz != nil {
			gz = len(f.gz)
		}
		out[p] = [2]int{len(f.body), gz}
	}
	return out
}
