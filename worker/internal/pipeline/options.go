package pipeline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/texture"
)

// ErrInvalidOptions is the sentinel every bad-option error wraps (code
// "invalid_options"); the fleet maps it to a permanent failure.
var ErrInvalidOptions = errors.New("pipeline: invalid options")

// Defaults of Options (applied by WithDefaults to zero fields). They are the
// job message's defaults: a job and a local reconstruct do the same work.
const (
	DefaultUVSize   = job.DefaultUVSize   // texels per side of uv_texture.png
	DefaultDetector = job.DefaultDetector // BlazeFace short-range: selfies, portraits
	DefaultMaxFaces = job.DefaultMaxFaces // faces reconstructed per image, highest scores first
	MaxMaxFaces     = job.MaxMaxFaces     // upper bound of MaxFaces
)

// Options select what Run produces. The zero value is valid: UV texture only,
// 1024², short-range detector, up to 4 faces.
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
	// Detector is "short" (faces within ~2 m) or "full" (smaller, farther
	// faces); "" means "short".
	Detector string `json:"detector"`
	// MaxFaces caps the faces reconstructed, 1..16; 0 means 4.
	MaxFaces int `json:"max_faces"`
}

// WithDefaults returns o with zero fields replaced by the defaults (the job
// message's rules: Options has job.Options' image fields; the job's webhook
// is not the pipeline's business).
func (o Options) WithDefaults() Options {
	d := job.Options{Geometry: o.Geometry, Head: o.Head, UVSize: o.UVSize, Detector: o.Detector, MaxFaces: o.MaxFaces}.WithDefaults()
	return Options{Geometry: d.WantsGeometry(), Head: d.Head, UVSize: d.UVSize, Detector: d.Detector, MaxFaces: d.MaxFaces}
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
// *OptionError wrapping ErrInvalidOptions; nil when o is valid.
func (o Options) Validate() error {
	o = o.WithDefaults()
	var p []string
	if o.UVSize < texture.MinSize || o.UVSize > texture.MaxSize {
		p = append(p, fmt.Sprintf("uv_size %d outside %d..%d", o.UVSize, texture.MinSize, texture.MaxSize))
	}
	if o.Detector != engine.DetectorShort && o.Detector != engine.DetectorFull {
		p = append(p, fmt.Sprintf("detector %q (want %q or %q)", o.Detector, engine.DetectorShort, engine.DetectorFull))
	}
	if o.MaxFaces < 1 || o.MaxFaces > MaxMaxFaces {
		p = append(p, fmt.Sprintf("max_faces %d outside 1..%d", o.MaxFaces, MaxMaxFaces))
	}
	if len(p) > 0 {
		return &OptionError{Problems: p}
	}
	return nil
}
