package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

// workerBench is the part of `worker bench -json` that bench reads.
type workerBench struct {
	Images  int         `json:"images"`
	Passes  int         `json:"passes"`
	Device  string      `json:"device"`
	Options job.Options `json:"options"`
	Results []struct {
		Precision            string  `json:"precision"`
		FacesPerPass         int     `json:"faces_per_pass"`
		PipelineImagesPerSec float64 `json:"pipeline_images_per_s"`
		BareImagesPerSec     float64 `json:"bare_images_per_s"`
	} `json:"results"`
}

// runWorkerBench runs `worker bench -json` on one device with the precision
// the fleet workers use ("auto") and returns its figures.
func runWorkerBench(ctx context.Context, bin, images, device, ortLib string, passes int, geometry bool, uvSize int) (workerBench, error) {
	args := []string{"bench", "-json", "-images", images, "-n", strconv.Itoa(passes), "-precisions", "auto",
		"-device", device, "-ort-lib", ortLib, "-geometry=" + strconv.FormatBool(geometry)}
	if uvSize > 0 {
		args = append(args, "-uv-size", strconv.Itoa(uvSize))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return workerBench{}, fmt.Errorf("localstack: %s %s: %w\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	var wb workerBench
	if err := json.Unmarshal(stdout.Bytes(), &wb); err != nil {
		return workerBench{}, fmt.Errorf("localstack: worker bench -json output: %w (does %s support -json?)", err, bin)
	}
	if len(wb.Results) != 1 || wb.Results[0].PipelineImagesPerSec <= 0 {
		return workerBench{}, fmt.Errorf("localstack: worker bench -json: want one result with a throughput, got %s", stdout.Bytes())
	}
	return wb, nil
}

// percentile returns the nearest-rank p-th percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// bench runs `localstack bench`: the in-process pipeline throughput per
// device (worker bench, before the stack starts, so that the two do not
// compete for the CPU), then N photos through the real fleet, and prints
// both with their ratio.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		sf       stackFlags
		n        int
		images   string
		passes   int
		geometry bool
		uvSize   int
		timeout  time.Duration
		verbose  bool
	)
	sf.register(fs, "")
	fs.Lookup("data").Usage += " (default: a temporary directory, removed afterwards)"
	fs.IntVar(&n, "n", 24, "jobs to push through the fleet (the photos, cycled)")
	fs.StringVar(&images, "images", "", "directory of photos (default: localstack/samples)")
	fs.IntVar(&passes, "passes", 3, "passes of the in-process worker bench")
	fs.BoolVar(&geometry, "geometry", false, "ask for the geometry in both measurements")
	fs.IntVar(&uvSize, "uv-size", 0, "UV texture size in both measurements (0 = default)")
	fs.DurationVar(&timeout, "timeout", 15*time.Minute, "how long the fleet jobs may take in all")
	fs.BoolVar(&verbose, "v", false, "show the producer's and workers' logs")
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if n < 1 || passes < 1 {
		return fmt.Errorf("localstack: --n %d and --passes %d must be >= 1", n, passes)
	}
	images, cleanup, err := sf.oneShot(log, stderr, verbose, "bench", images)
	defer cleanup()
	if err != nil {
		return err
	}
	if images, err = filepath.Abs(images); err != nil {
		return err
	}
	photos, err := listImages(images)
	if err != nil {
		return err
	}
	devices := strings.Split(sf.opts.Devices, ",")
	if slices.Contains(devices, "all") {
		return errors.New("localstack: bench needs the devices listed (e.g. --devices cuda:0,cuda:1), not \"all\"")
	}
	wcfgLib, err := findORTLibFromEnv(sf.opts)
	if err != nil {
		return err
	}

	// 1. In-process pipeline, one run per device, summed.
	fmt.Fprintf(stdout, "in-process pipeline: bin/worker bench -json on %s, %d pass(es) over %d photos …\n", sf.opts.Devices, passes, len(photos))
	var inProc float64
	var wbOpts job.Options
	var precision string
	for _, d := range devices {
		wb, err := runWorkerBench(ctx, filepath.Join(sf.opts.BinDir, "worker"), images, strings.TrimSpace(d), wcfgLib, passes, geometry, uvSize)
		if err != nil {
			return err
		}
		r := wb.Results[0]
		fmt.Fprintf(stdout, "  %-8s %s: %.2f images/s (%d faces per pass; bare models %.1f images/s)\n", d, r.Precision, r.PipelineImagesPerSec, r.FacesPerPass, r.BareImagesPerSec)
		inProc += r.PipelineImagesPerSec
		wbOpts, precision = wb.Options, r.Precision
	}

	// 2. The fleet, with the same job options as the in-process run.
	fmt.Fprintf(stdout, "fleet: starting the local stack (%d worker(s), devices %s) …\n", sf.opts.Workers, sf.opts.Devices)
	s, err := Start(ctx, sf.opts)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := s.Stop(); stopErr != nil {
			fmt.Fprintln(stderr, "localstack: stop:", stopErr)
		}
	}()
	c, err := client.New(ctx, s.Common, client.WithName("localstack-bench"))
	if err != nil {
		return err
	}
	defer c.Close()
	jctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// One warm-up job (not counted) so that first-use costs stay out.
	warm, err := submitFile(jctx, c, photos[0], wbOpts)
	if err != nil {
		return err
	}
	if err := follow(jctx, c, []*submitted{warm}, nil); err != nil {
		return err
	}
	if warm.final.State != status.StateSucceeded {
		return fmt.Errorf("%w: warm-up job %s: %s %s", ErrJobsFailed, warm.id, warm.final.ErrorCode, warm.final.ErrorMessage)
	}

	fmt.Fprintf(stdout, "fleet: submitting %d jobs (options: geometry %v, uv %d, detector %s, max faces %d) …\n",
		n, wbOpts.Geometry, wbOpts.WithDefaults().UVSize, wbOpts.WithDefaults().Detector, wbOpts.WithDefaults().MaxFaces)
	t0 := time.Now()
	jobs := make([]*submitted, 0, n)
	for i := range n {
		j, err := submitFile(jctx, c, photos[i%len(photos)], wbOpts)
		if err != nil {
			return err
		}
		jobs = append(jobs, j)
	}
	submitDur := time.Since(t0)
	if err := follow(jctx, c, jobs, nil); err != nil {
		return err
	}
	var lat []time.Duration
	var end time.Time
	var failed []string
	for _, j := range jobs {
		if j.final.State != status.StateSucceeded {
			failed = append(failed, fmt.Sprintf("%s: %s %s %s", j.id, j.final.State, j.final.ErrorCode, j.final.ErrorMessage))
			continue
		}
		// Submit call → the worker's succeeded timestamp (same machine clock).
		lat = append(lat, j.final.FinishedAt.Sub(j.start))
		if j.final.FinishedAt.After(end) {
			end = j.final.FinishedAt
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %d of %d:\n  %s", ErrJobsFailed, len(failed), n, strings.Join(failed, "\n  "))
	}
	slices.Sort(lat)
	wall := end.Sub(t0)
	fleet := float64(n) / wall.Seconds()

	fmt.Fprintf(stdout, "\nresults (%d jobs, %d worker process(es), devices %s, precision %s):\n", n, sf.opts.Workers, sf.opts.Devices, precision)
	fmt.Fprintf(stdout, "  fleet throughput       %.2f jobs/s   (%d jobs in %s; submitting took %s)\n", fleet, n, wall.Round(time.Millisecond), submitDur.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  submit→succeeded       p50 %s   p95 %s   p99 %s   max %s\n",
		percentile(lat, 50).Round(time.Millisecond), percentile(lat, 95).Round(time.Millisecond),
		percentile(lat, 99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	fmt.Fprintf(stdout, "  in-process pipeline    %.2f images/s (worker bench, same photos, options and device count)\n", inProc)
	fmt.Fprintf(stdout, "  fleet / in-process     %.0f%%\n", 100*fleet/inProc)
	return nil
}

// findORTLibFromEnv resolves the ONNX Runtime library as Start does.
func findORTLibFromEnv(o Options) (string, error) {
	return findORTLib(os.Getenv("FACEFLEET_ORT_LIB"), o.WorkDir, o.BinDir)
}
