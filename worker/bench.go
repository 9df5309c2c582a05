package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// benchReport is what one precision measured.
type benchReport struct {
	precision models.Precision
	images    int     // images processed per pass
	faces     int     // faces found per pass
	bareIPS   float64 // images/s through the bare sessions
	pipeIPS   float64 // images/s through the whole local pipeline
	stageMS   map[string]float64
	totalMS   float64
	bareDetMS float64 // per detector run
	bareLmMS  float64 // per landmark run (one face)
}

// bench runs `worker bench`: for FP32 and FP16 in the same process it measures
// (1) bare model throughput — the detector and landmark ORT sessions alone on
// pre-made input tensors, one detector run plus one landmark run per face the
// pipeline found in each image: the upper bound, and (2) the full local
// pipeline (decode → … → encode, in memory), then prints their ratio, each
// stage's share, the peak RSS and which precision is faster on this device.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		ef        engineFlags
		o         pipeline.Options
		dir       string
		n         int
		precision string
	)
	ef.register(fs)
	fs.StringVar(&dir, "images", "worker/testdata", "directory of JPEG/PNG/WebP images to run")
	fs.IntVar(&n, "n", 3, "passes over the images per precision (after one warm-up pass)")
	fs.BoolVar(&o.Geometry, "geometry", false, "include the geometry stage")
	fs.IntVar(&o.UVSize, "uv-size", pipeline.DefaultUVSize, "UV texture size")
	fs.StringVar(&o.Detector, "detector", pipeline.DefaultDetector, "face detector: short | full")
	fs.StringVar(&precision, "precisions", "fp32,fp16", "comma-separated precisions to compare")
	if _, err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if n < 1 {
		return fmt.Errorf("-n %d: want at least 1", n)
	}
	if err := o.Validate(); err != nil {
		return err
	}
	images, names, err := loadImages(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench: %d images from %s (%s), %d passes, detector %s, geometry %v, uv %d, device %s, ORT threads %d (0 = default)\n",
		len(images), dir, strings.Join(names, " "), n, o.WithDefaults().Detector, o.Geometry, o.WithDefaults().UVSize, ef.device, ef.threads)

	var reports []benchReport
	for _, p := range strings.Split(precision, ",") {
		r, err := benchPrecision(ctx, &ef, strings.TrimSpace(p), images, n, o, log)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		reports = append(reports, r)
	}
	printBench(stdout, reports)
	return nil
}

func loadImages(dir string) ([][]byte, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var data [][]byte
	var names []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".webp":
		default:
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, nil, err
		}
		data = append(data, b)
		names = append(names, e.Name())
	}
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("no .jpg/.png/.webp images in %s", dir)
	}
	return data, names, nil
}

func benchPrecision(ctx context.Context, ef *engineFlags, precision string, images [][]byte, n int, o pipeline.Options, log *slog.Logger) (benchReport, error) {
	eng, err := ef.open(log, precision)
	if err != nil {
		return benchReport{}, err
	}
	defer eng.Close()
	r := benchReport{precision: eng.Precision(), images: len(images), stageMS: map[string]float64{}}
	p := pipeline.New(eng, imagedecode.DefaultLimits(), log)

	// Warm-up pass, which also counts the faces per image for the bare run.
	facesPer := make([]int, len(images))
	for i, img := range images {
		out, err := p.Run(ctx, img, o, nil)
		if err != nil {
			return r, fmt.Errorf("image %d: %w", i, err)
		}
		facesPer[i] = len(out.Result.Faces)
		r.faces += facesPer[i]
		out.Release()
	}

	start := time.Now()
	for range n {
		for _, img := range images {
			out, err := p.Run(ctx, img, o, nil)
			if err != nil {
				return r, err
			}
			t := out.Result.TimingsMS
			r.stageMS[pipeline.StageDecode] += t.Decode
			r.stageMS[pipeline.StageDetect] += t.Detect
			r.stageMS[pipeline.StageLandmarks] += t.Landmarks
			r.stageMS[pipeline.StageTexture] += t.Texture
			if t.Geometry != nil {
				r.stageMS[pipeline.StageGeometry] += *t.Geometry
			}
			r.stageMS[pipeline.StageEncode] += t.Encode
			r.totalMS += t.Total
			out.Release()
		}
	}
	r.pipeIPS = float64(n*len(images)) / time.Since(start).Seconds()

	if eng.Device().Kind != engine.KindCPU {
		log.Warn("bare session benchmark runs on the CPU provider only; skipped", slog.String("device", eng.Device().String()))
		return r, nil
	}
	det := models.DetectorShort
	if o.WithDefaults().Detector == engine.DetectorFull {
		det = models.DetectorFull
	}
	ds, err := newBareSession(det, r.precision, ef.threads)
	if err != nil {
		return r, err
	}
	defer ds.destroy()
	ls, err := newBareSession(models.Landmark, r.precision, ef.threads)
	if err != nil {
		return r, err
	}
	defer ls.destroy()
	for range 2 { // warm-up
		if err := ds.run(); err != nil {
			return r, err
		}
		if err := ls.run(); err != nil {
			return r, err
		}
	}
	var detT, lmT time.Duration
	runs, lmRuns := 0, 0
	start = time.Now()
	for range n {
		for _, f := range facesPer {
			if err := ctx.Err(); err != nil {
				return r, err
			}
			t0 := time.Now()
			if err := ds.run(); err != nil {
				return r, err
			}
			t1 := time.Now()
			for range f {
				if err := ls.run(); err != nil {
					return r, err
				}
			}
			detT += t1.Sub(t0)
			lmT += time.Since(t1)
			runs++
			lmRuns += f
		}
	}
	r.bareIPS = float64(runs) / time.Since(start).Seconds()
	r.bareDetMS = float64(detT.Microseconds()) / 1000 / float64(runs)
	if lmRuns > 0 {
		r.bareLmMS = float64(lmT.Microseconds()) / 1000 / float64(lmRuns)
	}
	return r, nil
}

// bareSession is one ORT session with zero-filled float32 tensors made once:
// only the network's own cost is measured.
type bareSession struct {
	sess *ort.DynamicAdvancedSession
	in   []ort.Value
	outs []ort.Value
}

func newBareSession(m models.Model, p models.Precision, threads int) (*bareSession, error) {
	data, err := models.ONNX(m, p)
	if err != nil {
		return nil, err
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	if threads > 0 {
		if err := so.SetIntraOpNumThreads(threads); err != nil {
			return nil, err
		}
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	b := &bareSession{}
	names := func(infos []ort.InputOutputInfo, vals *[]ort.Value) ([]string, error) {
		var ns []string
		for _, info := range infos {
			if info.DataType != ort.TensorElementDataTypeFloat {
				return nil, fmt.Errorf("%s %s: %v tensors not supported by the bare benchmark", m, info.Name, info.DataType)
			}
			dims := slices.Clone([]int64(info.Dimensions))
			for i, d := range dims {
				if d < 0 {
					dims[i] = 1 // dynamic batch: one image / one face
				}
			}
			t, err := ort.NewEmptyTensor[float32](ort.NewShape(dims...))
			if err != nil {
				return nil, err
			}
			*vals = append(*vals, t)
			ns = append(ns, info.Name)
		}
		return ns, nil
	}
	inNames, err := names(ins, &b.in)
	if err != nil {
		b.destroy()
		return nil, err
	}
	outNames, err := names(outs, &b.outs)
	if err != nil {
		b.destroy()
		return nil, err
	}
	if b.sess, err = ort.NewDynamicAdvancedSessionWithONNXData(data, inNames, outNames, so); err != nil {
		b.destroy()
		return nil, err
	}
	return b, nil
}

func (b *bareSession) run() error { return b.sess.Run(b.in, b.outs) }

func (b *bareSession) destroy() {
	if b.sess != nil {
		b.sess.Destroy()
	}
	for _, v := range append(b.in, b.outs...) {
		v.Destroy()
	}
}

// peakRSSMiB is the process's peak resident set size (getrusage, Linux KiB).
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

func printBench(w io.Writer, reports []benchReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "precision\tfaces/pass\tbare img/s\tdetect ms\tlandmark ms/face\tpipeline img/s\tpipeline/bare\t")
	for _, r := range reports {
		ratio := "n/a"
		if r.bareIPS > 0 {
			ratio = fmt.Sprintf("%.1f%%", 100*r.pipeIPS/r.bareIPS)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%s\t\n", r.precision, r.faces, r.bareIPS, r.bareDetMS, r.bareLmMS, r.pipeIPS, ratio)
	}
	tw.Flush()
	fmt.Fprintln(w, "stage shares of pipeline time:")
	stages := []string{pipeline.StageDecode, pipeline.StageDetect, pipeline.StageLandmarks, pipeline.StageTexture, pipeline.StageGeometry, pipeline.StageEncode}
	for _, r := range reports {
		var parts []string
		for _, s := range stages {
			if v, ok := r.stageMS[s]; ok && r.totalMS > 0 {
				parts = append(parts, fmt.Sprintf("%s %.1f%%", s, 100*v/r.totalMS))
			}
		}
		fmt.Fprintf(w, "  %s: %s\n", r.precision, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "peak RSS: %.1f MiB\n", peakRSSMiB())
	if len(reports) >= 2 {
		best := reports[0]
		for _, r := range reports[1:] {
			if r.bareIPS > best.bareIPS {
				best = r
			}
		}
		fmt.Fprintf(w, "faster precision (bare model throughput): %s; this build's auto on CPU = %s\n", best.precision, cpuAutoPrecision)
	}
}
