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
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/imageenc"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// engineFlags are the model flags shared by reconstruct and bench.
type engineFlags struct {
	precision, device, ortLib string
	threads                   int
}

func (e *engineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.precision, "precision", "auto", "model precision: auto|fp16|fp32 (auto: fp16 on GPU, the measured winner on CPU)")
	fs.StringVar(&e.device, "device", "cpu", "inference device: cpu | cuda:N | tensorrt:N")
	fs.StringVar(&e.device, "devices", "cpu", "same as --device (worker run's name for the setting; one device here)")
	fs.StringVar(&e.ortLib, "ort-lib", "", "path to libonnxruntime.so (default $FACEFLEET_ORT_LIB, then "+engine.DefaultLibraryPath+")")
	fs.IntVar(&e.threads, "intra-op-threads", 0, "ONNX Runtime intra-op threads per session (0 = the engine's default, 1; worker run reads the same setting from FACEFLEET_INTRA_OP_THREADS)")
	fs.IntVar(&e.threads, "threads", 0, "short for --intra-op-threads")
}

func (e *engineFlags) open(log *slog.Logger, precision string) (*engine.Engine, error) {
	dev, err := engine.ParseDevice(e.device)
	if err != nil {
		return nil, err
	}
	prec, err := engine.ResolvePrecision(precision, dev)
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
	fs.BoolVar(&o.Head, "head", false, "also fit the ICT-FaceKit head: head.glb, head_texture.png, head.obj/mtl (implies -geometry)")
	fs.IntVar(&o.UVSize, "uv-size", pipeline.DefaultUVSize, "UV texture size in texels (256..4096)")
	fs.StringVar(&o.UVFormat, "uv-format", pipeline.DefaultUVFormat, "UV texture file: "+strings.Join(imageenc.SupportedFormats(), " | ")+" (jpeg adds uv_alpha.png)")
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
