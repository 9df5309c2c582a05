// Package texture unwraps a face from a photo into MediaPipe's canonical UV
// layout (canonical_face_model_uv_visualization.png: u right, v = 0 at the
// top, the face seen from the front).
//
// For every texel inside the layout the texel's triangle and barycentrics are
// known in advance (they depend only on the mesh and the texture size and are
// cached per size); the same barycentrics applied to the triangle's landmarks
// give a position in the photo, which is sampled bilinearly. A texel is
// sampled there only where that point is what the photo shows: its
// triangle faces the camera, the point lies inside the face's silhouette
// (the projected landmark mesh's outline) by a margin that widens as the
// face turns away, and it is the
// front-most surface at its pixel — the landmark mesh is z-buffered in
// image space (geometry.Rasterize) and any surface in front of the point
// that does not touch its triangle hides it (see visibility). Other texels
// are filled from the mirrored side of the face (mesh.Mirror) where that
// side is visible, and left transparent where neither is, rather than
// filled with whatever lies behind the head (what remains of that comes
// from landmarks that misplace the face itself: TestGroundTruthTexture). A small triangle that faces away only
// because it folds over (inside the lips, at a nostril) while the triangles
// around it face the camera is sampled from its own side.
//
// Where both sides are valid the two samples are blended so that no seam
// shows: by how frontally each side is seen (the triangles' photo-to-UV
// area ratio around each vertex, interpolated across the triangle), the
// mirror taking over smoothly only where the own side turns edge-on, and
// by visibility: within a feathered band (2.3% of the texture wide) around
// the texels that had to be filled from the mirror because the photo does
// not show their own point (hidden, facing away, in the silhouette's
// margin), so the change-over is a ramp, not a step.
//
// Unwrap shades in two passes over the layout's spans, split by rows across
// Options.Workers goroutines (scan.go): classify decides every texel's
// sources, paint samples each texel once at its final weight. The pipeline
// unwraps the faces of a photo in parallel and divides DefaultWorkers
// among them.
//
// The result is an NRGBA image whose alpha is 255 for valid texels and 0 for
// the rest. Around the valid texels a gutter of gutterWidth texels (2 up to
// 512², size/256 above, at most 8) carries the colour of the nearest valid
// texels with alpha 0, outside the layout and into invalid texels inside it,
// so a viewer's bilinear or mip-mapped lookups at UV edges do not pull in
// black. Texels farther away are (0, 0, 0, 0).
package texture

import (
	"errors"
	"fmt"
	"image"
	"math"
	"runtime"
	"sync"

	"github.com/facefleet/facefleet/models/facemesh"
	"github.com/facefleet/facefleet/shared/errcode"
)

// Texture sizes accepted by Unwrap.
const (
	DefaultSize = 1024
	MinSize     = 256
	MaxSize     = 4096
)

// MaxWorkers is the most goroutines one Unwrap may use (Options.Workers).
const MaxWorkers = 64

// Options control Unwrap.
type Options struct {
	// Size is the width and height of the square texture in texels.
	// Default (0) 1024; allowed 256..4096.
	Size int
	// Workers is how many goroutines one Unwrap shades on: its share of
	// the slot's CPUs. Default (0) DefaultWorkers(Size): GOMAXPROCS, at
	// most 8, and 1 below 512² (smaller textures cost less than the
	// hand-off); allowed 0..MaxWorkers. The texture does not depend on it.
	Workers int
}

// Stats describe an unwrapped texture.
type Stats struct {
	// Coverage is the fraction of the texels inside the UV layout that are
	// valid (alpha 255) in the output, mirror-filled texels included and
	// gutter texels (alpha 0) not.
	Coverage float64
	// Seen, Mirrored and Empty split the texels inside the UV layout by
	// where their colour comes from; they add up to 1. Seen is the share
	// sampled directly at the texel's own surface point, Mirrored the share
	// taken from the mirrored side (a texel blended from both sides counts
	// by its weights), Empty the share left transparent (neither side
	// visible): Seen + Mirrored = Coverage.
	Seen, Mirrored, Empty float64
	// BackFacing is the number of mesh triangles that face away from the
	// camera in the photo.
	BackFacing int
}

// ErrInvalidOptions is the sentinel every bad-option error wraps, so callers
// can map it to their own "invalid options" outcome with errors.Is.
var ErrInvalidOptions = errors.New("texture: invalid options")

// ErrInvalidSize is returned (wrapped, with the offending value) for a
// texture size outside MinSize..MaxSize. It is an *OptionError and wraps
// ErrInvalidOptions.
var ErrInvalidSize = &OptionError{Option: "size", Reason: fmt.Sprintf("must be within %d..%d", MinSize, MaxSize)}

// ErrInvalidWorkers is returned (wrapped, with the offending value) for a
// worker count outside 0..MaxWorkers. It is an *OptionError and wraps
// ErrInvalidOptions.
var ErrInvalidWorkers = &OptionError{Option: "workers", Reason: fmt.Sprintf("must be within 0..%d", MaxWorkers)}

// ErrInvalidInput is returned for landmarks, meshes or images Unwrap cannot
// use (wrong counts, non-finite coordinates, nil or empty images). It points
// at a bug upstream rather than at a bad request.
var ErrInvalidInput = errors.New("texture: invalid input")

// OptionError describes one invalid option. It wraps ErrInvalidOptions.
type OptionError struct {
	Option string // the option's name, e.g. "size"
	Reason string // what is allowed
}

func (e *OptionError) Error() string {
	return "texture: invalid option " + e.Option + ": " + e.Reason
}

// Unwrap returns ErrInvalidOptions.
func (e *OptionError) Unwrap() error { return ErrInvalidOptions }

// Code is the machine-readable error code stored in job status.
func (e *OptionError) Code() string { return errcode.InvalidOptions.String() }

// Validate reports whether o is usable (a zero Size means DefaultSize, zero
// Workers DefaultWorkers) and returns every problem.
func (o Options) Validate() error {
	var errs []error
	if o.Size != 0 && (o.Size < MinSize || o.Size > MaxSize) {
		errs = append(errs, fmt.Errorf("%w (got %d)", ErrInvalidSize, o.Size))
	}
	if o.Workers < 0 || o.Workers > MaxWorkers {
		errs = append(errs, fmt.Errorf("%w (got %d)", ErrInvalidWorkers, o.Workers))
	}
	return errors.Join(errs...)
}

func (o Options) size() int {
	if o.Size == 0 {
		return DefaultSize
	}
	return o.Size
}

func (o Options) workers() int {
	if o.Workers == 0 {
		return DefaultWorkers(o.size())
	}
	return o.Workers
}

// Unwrap samples img into a size×size texture in the canonical UV layout of
// mesh. landmarks are the mesh's vertices in the photo: x right and y down in
// pixels (pixel i covers [i, i+1)), z on the scale of x, smaller = nearer.
func Unwrap(img *image.NRGBA, landmarks [][3]float32, mesh *facemesh.Mesh, o Options) (*image.NRGBA, Stats, error) {
	return unwrapSeam(img, landmarks, mesh, o, defaultSeam())
}

// unwrap is Unwrap shading on the given number of goroutines.
func unwrap(img *image.NRGBA, landmarks [][3]float32, mesh *facemesh.Mesh, o Options, workers int) (*image.NRGBA, Stats, error) {
	o.Workers = workers
	return unwrapSeam(img, landmarks, mesh, o, defaultSeam())
}

// unwrapSeam is Unwrap with the given seam parameters.
func unwrapSeam(img *image.NRGBA, landmarks [][3]float32, mesh *facemesh.Mesh, o Options, seam seamParams) (*image.NRGBA, Stats, error) {
	return unwrapWith(img, landmarks, mesh, o, seam, (*frame).shade)
}

// shader colours the texels of chunks (the layout's spans, one part per
// goroutine) into out and returns how many became valid and the mirrored
// share of their colour.
type shader func(f *frame, out *image.NRGBA, chunks [][]span) (valid int, mirrored float64)

// unwrapWith is unwrapSeam shading with shade (see scan.go for Unwrap's).
func unwrapWith(img *image.NRGBA, landmarks [][3]float32, mesh *facemesh.Mesh, o Options, seam seamParams, shade shader) (*image.NRGBA, Stats, error) {
	if err := o.Validate(); err != nil {
		return nil, Stats{}, err
	}
	if err := checkInput(img, landmarks, mesh); err != nil {
		return nil, Stats{}, err
	}
	size := o.size()
	lay, err := layoutFor(mesh, size)
	if err != nil {
		return nil, Stats{}, err
	}

	f := newFrame(img, landmarks, lay, seam)
	defer f.release()
	out := image.NewNRGBA(image.Rect(0, 0, size, size))

	chunks := [][]span{lay.spans}
	if w := o.workers(); w > 1 {
		chunks = splitSpans(lay.spans, lay.inside, w, lay.cell)
	}
	valid, mirrored := shade(f, out, chunks)
	var holes []uint16
	if valid < lay.inside {
		holes = f.holes
	}
	gutter(out, lay, holes)
	st := Stats{BackFacing: f.backFacing}
	if lay.inside > 0 {
		st.Coverage = float64(valid) / float64(lay.inside)
		st.Mirrored = mirrored / float64(lay.inside)
		st.Seen = max(0, st.Coverage-st.Mirrored)
		st.Empty = 1 - st.Coverage
	}
	return out, st, nil
}

// tally runs fn(0..n-1) (with parallel) and sums what they return.
func tally(n int, fn func(int) (int, float64)) (valid int, mirrored float64) {
	counts := make([]struct {
		valid    int
		mirrored float64
	}, n)
	parallel(n, func(w int) { counts[w].valid, counts[w].mirrored = fn(w) })
	for _, c := range counts {
		valid += c.valid
		mirrored += c.mirrored
	}
	return valid, mirrored
}

// parallel runs fn(0..n-1), on n goroutines when n > 1.
func parallel(n int, fn func(int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() { fn(w) })
	}
	wg.Wait()
}

// parallelMinSize is the smallest texture size shaded on more than one
// goroutine by default; below it the hand-off costs more than it saves
// (BenchmarkUnwrap).
const parallelMinSize = 512

// defaultMaxWorkers caps DefaultWorkers: past it the passes' serial parts
// (frame, feather grid, gutter) dominate.
const defaultMaxWorkers = 8

// DefaultWorkers is the goroutines an Unwrap of a size×size texture uses
// when Options.Workers is 0: GOMAXPROCS, at most 8, and 1 below 512².
func DefaultWorkers(size int) int {
	n := runtime.GOMAXPROCS(0)
	if size < parallelMinSize || n < 2 {
		return 1
	}
	return min(n, defaultMaxWorkers)
}

func checkInput(img *image.NRGBA, landmarks [][3]float32, mesh *facemesh.Mesh) error {
	if mesh == nil || len(mesh.UV) == 0 || len(mesh.Triangles) == 0 {
		return fmt.Errorf("%w: no mesh", ErrInvalidInput)
	}
	if len(mesh.Mirror) != len(mesh.UV) {
		return fmt.Errorf("%w: mesh has %d mirror entries for %d vertices", ErrInvalidInput, len(mesh.Mirror), len(mesh.UV))
	}
	if img == nil || img.Rect.Empty() {
		return fmt.Errorf("%w: empty image", ErrInvalidInput)
	}
	if len(landmarks) != len(mesh.UV) {
		return fmt.Errorf("%w: %d landmarks for a mesh of %d vertices", ErrInvalidInput, len(landmarks), len(mesh.UV))
	}
	for i, p := range landmarks {
		for _, c := range p {
			if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) || math.Abs(float64(c)) > 1e7 {
				return fmt.Errorf("%w: landmark %d is %v", ErrInvalidInput, i, p)
			}
		}
	}
	return nil
}
