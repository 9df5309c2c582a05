package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

// ErrJobsFailed is returned by demo and bench when a job did not succeed.
var ErrJobsFailed = errors.New("localstack: not every job succeeded")

// demoResult is the part of result.json the demo prints.
type demoResult struct {
	Image struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"image"`
	Model struct {
		Precision string `json:"precision"`
		Device    string `json:"device"`
	} `json:"model"`
	Faces []struct {
		Index int        `json:"index"`
		BBox  [4]float64 `json:"bbox"`
		Score float64    `json:"score"`
		Pose  *struct {
			Pitch float64 `json:"pitch"`
			Yaw   float64 `json:"yaw"`
			Roll  float64 `json:"roll"`
		} `json:"pose"`
		Texture struct {
			Coverage float64 `json:"coverage"`
		} `json:"texture"`
	} `json:"faces"`
}

// demo runs `localstack demo`: start a stack, submit the sample photos with
// geometry, print their progress and results, download the results, stop.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) (err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		sf       stackFlags
		images   string
		out      string
		geometry bool
		maxFaces int
		timeout  time.Duration
		verbose  bool
	)
	sf.register(fs, "")
	fs.StringVar(&images, "images", "", "directory of photos to submit (default: localstack/samples)")
	fs.Lookup("data").Usage += " (default: a temporary directory, removed afterwards)"
	fs.StringVar(&out, "out", filepath.Join("out", "demo"), "where to download the results (<out>/<image-stem>/)")
	fs.BoolVar(&geometry, "geometry", true, "ask for the geometry (mesh, pose, depth, normals)")
	fs.IntVar(&maxFaces, "max-faces", 4, "faces per image at most (1..16)")
	fs.DurationVar(&timeout, "timeout", 10*time.Minute, "how long the jobs may take in all")
	fs.BoolVar(&verbose, "v", false, "show the producer's and workers' logs")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	images, cleanup, err := sf.oneShot(log, stderr, verbose, "demo", images)
	defer cleanup()
	if err != nil {
		return err
	}
	photos, err := listImages(images)
	if err != nil {
		return err
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "starting the local stack (state in %s) …\n", sf.opts.DataDir)
	t0 := time.Now()
	s, err := Start(ctx, sf.opts)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stdout, "stopping the local stack …")
		if stopErr := s.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		} else {
			fmt.Fprintln(stdout, "stack stopped cleanly")
		}
	}()
	fmt.Fprintf(stdout, "stack ready in %s: producer API %s, %d worker(s) on %s\n",
		time.Since(t0).Round(time.Millisecond), s.APIURL, len(s.WorkerURLs), sf.opts.Devices)

	c, err := client.New(ctx, s.Common, client.WithName("localstack-demo"))
	if err != nil {
		return err
	}
	defer c.Close()
	jctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts := job.Options{Geometry: geometry, MaxFaces: maxFaces}
	var jobs []*submitted
	base := time.Now()
	for _, p := range photos {
		j, err := submitFile(jctx, c, p, opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "submitted %-34s job %s\n", filepath.Base(p), j.id)
		jobs = append(jobs, j)
	}
	followErr := follow(jctx, c, jobs, func(j *submitted, rec status.Record) {
		line := fmt.Sprintf("  %6.2fs  %-30s %-9s", time.Since(base).Seconds(), j.stem, rec.State)
		if rec.Stage != "" {
			line += fmt.Sprintf(" %-9s %3d%%", rec.Stage, rec.Percent)
		}
		if rec.Worker != "" && rec.State == status.StateRunning && rec.Stage == "" {
			line += "  on " + rec.Worker
		}
		if rec.ErrorCode != "" {
			line += fmt.Sprintf("  %s: %s", rec.ErrorCode, rec.ErrorMessage)
		}
		fmt.Fprintln(stdout, line)
	})

	fmt.Fprintln(stdout, "\nresults:")
	var failed []string
	for _, j := range jobs {
		if err := report(jctx, stdout, c, j, out); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", j.stem, err))
		}
	}
	if followErr != nil {
		failed = append(failed, followErr.Error())
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrJobsFailed, strings.Join(failed, "\n  "))
	}
	fmt.Fprintf(stdout, "\nall %d jobs succeeded; results in %s\n", len(jobs), out)
	return nil
}

// report prints one job's outcome and downloads its results into
// out/<stem>/. It returns an error unless the job succeeded with results.
func report(ctx context.Context, w io.Writer, c *client.Client, j *submitted, out string) error {
	rec := j.final
	fmt.Fprintf(w, "\n%s  (job %s)\n", filepath.Base(j.image), j.id)
	fmt.Fprintf(w, "  state     %s", rec.State)
	if !rec.FinishedAt.IsZero() && !rec.CreatedAt.IsZero() {
		fmt.Fprintf(w, " after %s (attempts %d, worker %s, device %s)", rec.FinishedAt.Sub(rec.CreatedAt).Round(time.Millisecond),
			rec.Attempts, rec.Worker, rec.Device)
	}
	fmt.Fprintln(w)
	if rec.State != status.StateSucceeded {
		if rec.ErrorCode != "" {
			return fmt.Errorf("%s: %s: %s", rec.State, rec.ErrorCode, rec.ErrorMessage)
		}
		return fmt.Errorf("ended in state %q", rec.State)
	}
	if len(rec.Timings) > 0 {
		fmt.Fprintf(w, "  timings   %s\n", formatTimings(rec.Timings))
	}
	dir := filepath.Join(out, j.stem)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	files, err := download(ctx, c, rec, dir)
	if err != nil {
		return err
	}
	var resultURL string
	keys := make([]string, 0, len(files))
	for _, f := range files {
		keys = append(keys, f.Name)
		if f.Name == "result.json" {
			resultURL = f.URL
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		return fmt.Errorf("result.json: %w", err)
	}
	var res demoResult
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("result.json: %w", err)
	}
	fmt.Fprintf(w, "  image     %d×%d, model %s on %s\n", res.Image.Width, res.Image.Height, res.Model.Precision, res.Model.Device)
	fmt.Fprintf(w, "  faces     %d\n", len(res.Faces))
	for _, f := range res.Faces {
		line := fmt.Sprintf("    face-%d  box [%.0f %.0f %.0f %.0f] score %.2f, UV coverage %.0f%%",
			f.Index, f.BBox[0], f.BBox[1], f.BBox[2], f.BBox[3], f.Score, 100*f.Texture.Coverage)
		if f.Pose != nil {
			line += fmt.Sprintf(", pose yaw %.1f° pitch %.1f° roll %.1f°", f.Pose.Yaw, f.Pose.Pitch, f.Pose.Roll)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "  S3        s3://%s/results/%s/ : %s\n", c.Storage().Bucket(), rec.ID, strings.Join(keys, " "))
	fmt.Fprintf(w, "  result    %s\n", resultURL)
	fmt.Fprintf(w, "  saved to  %s\n", dir)
	if len(res.Faces) == 0 {
		return errors.New("no face found")
	}
	return nil
}
