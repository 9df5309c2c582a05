package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

// sampleDir returns the default directory of sample photos: localstack/samples
// under the working directory, else next to the binaries' parent directory.
func sampleDir(workDir, binDir string) string {
	rel := filepath.Join("localstack", "samples")
	for _, d := range []string{filepath.Join(workDir, rel), filepath.Join(filepath.Dir(binDir), rel)} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return filepath.Join(workDir, rel)
}

// listImages returns the .jpg/.jpeg/.png/.webp files of dir, sorted.
func listImages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("localstack: images: %w", err)
	}
	var out []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".webp":
			if !e.IsDir() {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("localstack: no .jpg/.png/.webp images in %s", dir)
	}
	slices.Sort(out)
	return out, nil
}

// submitted is one job the demo or bench follows.
type submitted struct {
	image    string // path of the photo
	stem     string // file name without extension
	id       string
	start    time.Time // when Submit was called
	final    status.Record
	finalAt  time.Time // when the terminal record was seen
	watchErr error
}

// submitFile submits one photo.
func submitFile(ctx context.Context, c *client.Client, path string, opts job.Options) (*submitted, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	j := &submitted{image: path, stem: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), start: time.Now()}
	rec, err := c.Submit(ctx, client.SubmitRequest{Image: f, Filename: filepath.Base(path), Options: opts})
	if err != nil {
		return nil, fmt.Errorf("localstack: submit %s: %w", path, err)
	}
	j.id = rec.ID
	return j, nil
}

// follow watches every job until it is terminal or ctx ends. onChange, when
// set, is called (serially) with every record whose state, stage or percent
// changed.
func follow(ctx context.Context, c *client.Client, jobs []*submitted, onChange func(*submitted, status.Record)) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			ch, err := c.Watch(ctx, j.id)
			if err != nil {
				j.watchErr = err
				return
			}
			var last status.Record
			for rec := range ch {
				changed := rec.State != last.State || rec.Stage != last.Stage || rec.Percent != last.Percent
				last = rec
				if rec.State.Terminal() {
					j.final, j.finalAt = rec, time.Now()
				}
				if changed && onChange != nil {
					mu.Lock()
					onChange(j, rec)
					mu.Unlock()
				}
			}
			if !j.final.State.Terminal() {
				// The watch ended early (ctx or a broken subscription):
				// read the record once more.
				rec, err := c.Get(context.WithoutCancel(ctx), j.id)
				switch {
				case err != nil:
					j.watchErr = err
				case rec.State.Terminal():
					j.final, j.finalAt = rec, time.Now()
				default:
					j.final = rec
					j.watchErr = fmt.Errorf("job %s still %s: %w", j.id, rec.State, ctx.Err())
				}
			}
		})
	}
	wg.Wait()
	var errs []error
	for _, j := range jobs {
		if j.watchErr != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", j.stem, j.id, j.watchErr))
		}
	}
	return errors.Join(errs...)
}

// download fetches every result file of rec through its presigned URL into
// dir, keeping the layout under results/<id>/; it returns the files written.
func download(ctx context.Context, c *client.Client, rec status.Record, dir string) ([]client.ResultFile, error) {
	files, err := c.ResultURLs(ctx, rec)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("localstack: job %s has no result files", rec.ID)
	}
	for _, f := range files {
		rel := filepath.FromSlash(f.Name)
		if !filepath.IsLocal(rel) {
			return nil, fmt.Errorf("localstack: result name %q leaves the output directory", f.Name)
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := fetch(ctx, f.URL, dst); err != nil {
			return nil, fmt.Errorf("localstack: download %s: %w", f.Key, err)
		}
	}
	return files, nil
}

func fetch(ctx context.Context, url, dst string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET presigned URL: status %d: %s", resp.StatusCode, b)
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// stageOrder is the order of timings in printouts (ARCHITECTURE.md).
var stageOrder = []string{"decode", "detect", "landmarks", "texture", "geometry", "head", "encode", "upload"}

// formatTimings renders stage timings in pipeline order, then any others.
func formatTimings(t map[string]float64) string {
	var parts []string
	done := map[string]bool{}
	for _, s := range stageOrder {
		if v, ok := t[s]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f", s, v))
			done[s] = true
		}
	}
	var rest []string
	for k := range t {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%s %.1f", k, t[k]))
	}
	return strings.Join(parts, ", ") + " ms"
}
