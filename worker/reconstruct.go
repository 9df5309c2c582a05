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
	"strings"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// cpuAutoPrecision is what precision "auto" means on the CPU: the faster of
// the two by bare model throughput, as measured by `worker bench` (both
// precisions in one process, passes interleaved, median pass) on the three
// photos in worker/testdata/images (5 faces per pass: detector run + one
// landmark run per face), ORT 1.30 CPU provider, AMD EPYC with AVX-512F but
// no AVX512-FP16, 2 cores shared with other jobs (load average 15–23):
//
//	run                      fp32 img/s   fp16 img/s
//	n=7, default threads         45.3         42.1
//	n=9, default threads         59.8         65.1
//	n=9, 1 thread                46.1         44.7
//	n=5, default threads         89.3         69.1
//	mean ms per run (3 runs)  detect 4.7–5.0, landmark 6.6–11.1 (fp32)
//	                          detect 5.2–6.2, landmark 7.0–9.0  (fp16)
//
// The two are close and this shared machine is noisy, but FP32 was ahead in
// three runs of four; x86 without AVX512-FP16 has no native FP16 arithmetic
// for ORT's CPU kernels to gain from, and FP32 is the exact reference the
// FP16 files were converted from. So auto = FP32 on the CPU. Re-measure with
// `worker bench` on the production CPU and change this constant if FP16 wins
// there by more than the pass-to-pass spread.
const cpuAutoPrecision = models.FP32

// resolvePrecision maps a precision flag ("auto", "fp16", "fp32") to a model
// precision for device d: auto is FP16 on GPUs and cpuAutoPrecision on the CPU.
func resolvePrecision(p string, d engine.Device) (models.Precision, error) {
	switch strings.ToLower(strings.TrimSpace(p)) {
	case "", "auto":
		if d.Kind == engine.KindCPU || d.Kind == "" {
			return cpuAutoPrecision, nil
		}
		return models.FP16, nil
	case "fp16":
		return models.FP16, nil
	case "fp32":
		return models.FP32, nil
	}
	return "", fmt.Errorf("precision %q: want auto, fp16 or fp32", p)
}

// engineFlags are the model flags shared by reconstruct and bench.
type engineFlags struct {
	precision, device, ortLib string
	threads                   int
}

func (e *engineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.precision, "precision", "auto", "model precision: auto|fp16|fp32 (auto: fp16 on GPU, the measured winner on CPU)")
	fs.StringVar(&e.device, "device", "cpu", "inference device: cpu | cuda:N | tensorrt:N")
	fs.StringVar(&e.ortLib, "ort-lib", "", "path to libonnxruntime.so (default $FACEFLEET_ORT_LIB, then "+engine.DefaultLibraryPath+")")
	fs.IntVar(&e.threads, "threads", 0, "ONNX Runtime intra-op threads (0 = ORT default)")
}

func (e *engineFlags) open(log *slog.Logger, precision string) (*engine.Engine, error) {
	dev, err := engine.ParseDevice(e.device)
	if err != nil {
		return nil, err
	}
	prec, err := resolvePrecision(precision, dev)
	if err != nil {
		return nil, err
	}
	return engine.New(engine.Config{
		LibraryPath:    e.ortLib,
		Device:         dev,
		Precision:      prec,
		IntraOpThreads: e.threads,
		Logger:         log,
	})
}

// ImageError is the failure of one image of a reconstruct run.
type ImageError struct {
	Image string
	Err   error
}

func (e *ImageError) Error() string { return e.Image + ": " + e.Err.Error() }
func (e *ImageError) Unwrap() error { return e.Err }

// reconstruct runs `worker reconstruct`.
func reconstruct(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("reconstruct", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		ef     engineFlags
		o      pipeline.Options
		outDir string
		lim    = imagedecode.DefaultLimits()
	)
	ef.register(fs)
	fs.BoolVar(&o.Geometry, "geometry", false, "also write pose, mesh.obj/mtl, mesh.glb, depth.png, normals.png")
	fs.IntVar(&o.UVSize, "uv-size", pipeline.DefaultUVSize, "UV texture size in texels (256..4096)")
	fs.StringVar(&o.Detector, "detector", pipeline.DefaultDetector, "face detector: short | full")
	fs.IntVar(&o.MaxFaces, "max-faces", pipeline.DefaultMaxFaces, "most faces per image (1..16)")
	fs.StringVar(&outDir, "o", "", "output directory (required); results go to OUTDIR/<image-stem>/")
	fs.Int64Var(&lim.MaxBytes, "max-image-bytes", lim.MaxBytes, "largest accepted image file")
	fs.Int64Var(&lim.MaxPixels, "max-image-pixels", lim.MaxPixels, "largest accepted width×height")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: worker reconstruct [flags] -o OUTDIR IMAGE...")
		fs.PrintDefaults()
	}
	images, err := config.ParseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if outDir == "" || len(images) == 0 {
		fs.Usage()
		return errUsage
	}
	if err := o.Validate(); err != nil {
		return err
	}
	stems := map[string]string{}
	for _, img := range images {
		s := stem(img)
		if prev, dup := stems[s]; dup {
			return fmt.Errorf("%s and %s would both write %s", prev, img, filepath.Join(outDir, s))
		}
		stems[s] = img
	}
	eng, err := ef.open(log, ef.precision)
	if err != nil {
		return err
	}
	defer eng.Close()
	p := pipeline.New(eng, lim, log)

	var errs []error
	for _, img := range images {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := filepath.Join(outDir, stem(img))
		res, err := reconstructOne(ctx, p, img, dir, o)
		if err != nil {
			// Typed errors print their code first ("image_too_large: …").
			fmt.Fprintf(stderr, "%s: %v\n", img, err)
			errs = append(errs, &ImageError{Image: img, Err: err})
			continue
		}
		fmt.Fprintf(stdout, "%s: %d face(s), %dx%d, %.0f ms → %s\n", img, len(res.Faces), res.Image.Width, res.Image.Height, res.TimingsMS.Total, dir)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d images failed: %w", len(errs), len(images), errors.Join(errs...))
	}
	return nil
}

// reconstructOne runs one image and replaces dir with its outputs (written
// to a temporary sibling first, so dir is never half-written).
func reconstructOne(ctx context.Context, p *pipeline.Pipeline, img, dir string, o pipeline.Options) (*pipeline.Result, error) {
	data, err := os.ReadFile(img)
	if err != nil {
		return nil, err
	}
	out, err := p.Run(ctx, data, o, nil)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	for _, f := range out.Files {
		path := filepath.Join(tmp, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	res := out.Result
	return &res, nil
}

// stem is the file name without directory and extension.
func stem(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}
