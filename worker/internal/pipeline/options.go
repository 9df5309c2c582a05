package pipeline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/worker/internal/imageenc"
)

// ErrInvalidOptions is the sentinel every bad-option error wraps (code
// "invalid_options"); the fleet maps it to a permanent failure.
var ErrInvalidOptions = errors.New("pipeline: invalid options")

// Defaults of Options (applied by WithDefaults to zero fields). They are the
// job message's defaults: a job and a local reconstruct do the same work.
const (
	DefaultUVSize   = job.DefaultUVSize   // texels per side of uv_texture.png
	DefaultUVFormat = job.DefaultUVFormat // file format of the UV texture
	DefaultDetector = job.DefaultDetector // BlazeFace short-range: selfies, portraits
	DefaultMaxFaces = job.DefaultMaxFaces // faces reconstructed per image, highest scores first
	MaxMaxFaces     = job.MaxMaxFaces     // upper bound of MaxFaces
)

// Options select what Run produces. The zero value is valid: UV texture only,
// 1024² PNG, short-range detector, up to 16 faces (the job message's defaults).
type Options struct {
	// Geometry adds pose, mesh.obj/mtl, mesh.glb, depth.png and normals.png
	// per face. Default false: the geometry stage does no work at all.
	Geometry bool `json:"geometry"`
	// Head adds the fitted ICT-FaceKit head per face (head.glb,
	// head_texture.png, head.obj/mtl, FaceResult.Head). It implies Geometry:
	// WithDefaults sets Geometry when Head is set.
	Head bool `json:"head"`
	// UVSize is the side of the square UV texture, 256..4096; 0 means 1024.
	UVSize int `json:"uv_size"`
	// UVFormat is the UV texture's file format, one of job.UVFormats
	// ("png", "jpeg" with uv_alpha.png, "webp"); "" means "png".
	UVFormat string `json:"uv_format"`
	// Detector is "short" (faces within ~2 m) or "full" (smaller, farther
	// faces); "" means "short".
	Detector string `json:"detector"`
	// MaxFaces caps the faces reconstructed, 1..16; 0 means 16.
	MaxFaces int `json:"max_faces"`
}

// FromJob is the pipeline's part of a job's options (the webhook is not the
// pipeline's business).
func FromJob(o job.Options) Options {
	return Options{Geometry: o.Geometry, Head: o.Head, UVSize: o.UVSize, UVFormat: o.UVFormat, Detector: o.Detector, MaxFaces: o.MaxFaces}
}

// job is the job options o stands for.
func (o Options) job() job.Options {
	return job.Options{Geometry: o.Geometry, Head: o.Head, UVSize: o.UVSize, UVFormat: o.UVFormat, Detector: o.Detector, MaxFaces: o.MaxFaces}
}

// WithDefaults returns o with zero fields replaced by the defaults (the job
// message's rules, job.Options.WithDefaults; Head implies Geometry).
func (o Options) WithDefaults() Options {
	d := o.job().WithDefaults()
	return Options{Geometry: d.WantsGeometry(), Head: d.Head, UVSize: d.UVSize, UVFormat: d.UVFormat, Detector: d.Detector, MaxFaces: d.MaxFaces}
}

// OptionError describes the invalid options; it wraps ErrInvalidOptions.
type OptionError struct {
	Problems []string // one line per invalid field
}

// Error implements error.
func (e *OptionError) Error() string {
	return errcode.InvalidOptions.String() + ": " + strings.Join(e.Problems, "; ")
}

// Code returns "invalid_options".
func (e *OptionError) Code() string { return errcode.InvalidOptions.String() }

// Unwrap returns ErrInvalidOptions.
func (e *OptionError) Unwrap() error { return ErrInvalidOptions }

// Validate reports every invalid field of o (after defaults) at once, as an
// *OptionError wrapping ErrInvalidOptions; nil when o is valid. The bounds
// are the job message's (job.Options.Validate): a job and a local
// reconstruct accept the same options. A UV format this build cannot write
// (WebP without cgo, imageenc.Supported) is invalid here too.
func (o Options) Validate() error {
	d := o.WithDefaults()
	err := d.job().Validate()
	var p []string
	if err == nil {
		if !imageenc.Supported(d.UVFormat) {
			return &OptionError{Problems: []string{fmt.Sprintf("uv_format: %q is not in this worker build (it writes %s)",
				d.UVFormat, strings.Join(imageenc.SupportedFormats(), ", "))}}
		}
		return nil
	}
	for _, e := range unjoin(err) {
		var fe *job.FieldError
		if errors.As(e, &fe) {
			p = append(p, strings.TrimPrefix(fe.Field, "options.")+": "+fe.Problem)
		} else {
			p = append(p, e.Error())
		}
	}
	return &OptionError{Problems: p}
}

// unjoin lists the errors of an errors.Join (err itself otherwise).
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
