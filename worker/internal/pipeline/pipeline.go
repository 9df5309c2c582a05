// Package pipeline runs the stages that turn one image into a 3D face result:
// decode → detect → landmarks → texture → [geometry] → encode. It measures
// each stage, reports progress, checks for cancellation between stages and
// returns result.json plus the output files in memory; the caller (the
// reconstruct command, the fleet worker) decides where they go.
//
// The models sit behind the small Model interface (satisfied by
// *engine.Engine), so the pipeline's own logic is testable without ONNX
// Runtime.
package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"log/slog"
	"path"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/facemesh"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/geometry"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pngenc"
	"github.com/facefleet/facefleet/worker/internal/texture"
)

// Model is what the pipeline needs from the inference engine.
type Model interface {
	Detect(ctx context.Context, img *image.NRGBA, o engine.DetectOptions) ([]engine.Detection, error)
	Landmarks(ctx context.Context, img *image.NRGBA, dets []engine.Detection) ([]engine.Face, error)
	Precision() models.Precision
	Device() engine.Device
}

var _ Model = (*engine.Engine)(nil)

// Stage names, as used in timings and progress (ARCHITECTURE.md).
const (
	StageDecode    = "decode"
	StageDetect    = "detect"
	StageLandmarks = "landmarks"
	StageTexture   = "texture"
	StageGeometry  = "geometry"
	StageEncode    = "encode"
)

// Progress is called after each stage with the stage name and the overall
// percentage done (monotonic, 100 after encode). It runs on Run's goroutine
// and must return quickly.
type Progress func(stage string, percent int)

// File is one output file. Path is relative to the result directory
// (e.g. "face-0/uv_texture.png").
type File struct {
	Path        string
	ContentType string
	Data        []byte
}

// Output is what Run produces: the result and every file, result.json last.
type Output struct {
	Result Result
	Files  []File

	bufs []*bytes.Buffer
}

// Release returns the output's buffers to the pipeline's pool. File.Data
// must not be used afterwards. Calling it is optional (without it the
// garbage collector reclaims the memory) and it is safe on nil.
func (o *Output) Release() {
	if o == nil {
		return
	}
	for _, b := range o.bufs {
		bufPool.Put(b)
	}
	o.bufs, o.Files = nil, nil
}

// bufPool recycles the encode buffers: PNGs and GLBs are the largest
// allocations of a run after the decoded image itself.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Pipeline runs images through a Model. It is safe for concurrent use if
// the Model is (engine.Engine serialises its own calls).
type Pipeline struct {
	model Model
	lim   imagedecode.Limits
	log   *slog.Logger
	mesh  *facemesh.Mesh
	png   *pngenc.Encoder // every PNG: uv_texture (uv_alpha), depth, normals
	// wholeDecode turns the reduced decode of large JPEGs off (decode.go).
	wholeDecode bool
}

// New returns a Pipeline using model and decode limits lim (zero fields take
// imagedecode's defaults). A nil log discards messages.
func New(model Model, lim imagedecode.Limits, log *slog.Logger) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{
		model: model,
		lim:   lim,
		log:   log,
		mesh:  models.Canonical(),
		png:   &pngenc.Encoder{},
	}
}

// faceWork is the per-face state carried between stages.
type faceWork struct {
	face    engine.Face
	px      [][3]float32 // face.Landmarks in the decoded image's pixels (the same unless it is reduced)
	tex     *image.NRGBA
	stats   texture.Stats
	pose    *geometry.Pose
	mesh    *geometry.Mesh
	depth   *image.Gray16
	normals *image.NRGBA
	head    *headWork // with Options.Head (head.go)
}

// Run reconstructs the faces in data. Bad input returns an error wrapping
// imagedecode.ErrBadImage or ErrInvalidOptions; a cancelled ctx returns
// ctx.Err() (wrapped) at the next stage boundary. An image without faces is
// not an error: Result.Faces is empty. progress may be nil.
func (p *Pipeline) Run(ctx context.Context, data []byte, o Options, progress Progress) (*Output, error) {
	if progress == nil {
		progress = func(string, int) {}
	}
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	var tm Timings
	lap := func(d *float64) func() {
		t := time.Now()
		return func() { *d = ms(time.Since(t)) }
	}
	checkpoint := func(stage string, percent int) error {
		progress(stage, percent)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pipeline: cancelled after %s: %w", stage, err)
		}
		return nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pipeline: cancelled before decode: %w", err)
	}

	done := lap(&tm.Decode)
	dec, err := p.decode(ctx, data, o) // decode.go: whole, or reduced for a large JPEG
	if err != nil {
		return nil, err
	}
	img := dec.img
	// Nothing in the Output refers to the decoded pixels (textures and maps
	// are new images), so its buffer is recycled for the next Run.
	defer img.Release()
	done()
	tm.Decode -= ms(dec.detect)
	if err := checkpoint(StageDecode, 10); err != nil {
		return nil, err
	}

	done = lap(&tm.Detect)
	dets, err := p.model.Detect(ctx, img.NRGBA, dec.detectOptions(o))
	if err != nil {
		return nil, fmt.Errorf("pipeline: detect: %w", err)
	}
	dets = dec.detected(dets, o.MaxFaces) // decode.go
	done()
	tm.Detect += ms(dec.detect)
	if err := checkpoint(StageDetect, 25); err != nil {
		return nil, err
	}

	done = lap(&tm.Landmarks)
	var faces []engine.Face
	if len(dets) > 0 {
		if faces, err = p.model.Landmarks(ctx, img.NRGBA, dets); err != nil {
			return nil, fmt.Errorf("pipeline: landmarks: %w", err)
		}
	}
	done()
	// Left to right by box x (ties: top to bottom) so indices are stable.
	slices.SortStableFunc(faces, func(a, b engine.Face) int {
		if a.Box[0] != b.Box[0] {
			return cmp.Compare(a.Box[0], b.Box[0])
		}
		return cmp.Compare(a.Box[1], b.Box[1])
	})
	work := make([]faceWork, len(faces))
	for i := range faces {
		work[i].face, work[i].px = faces[i], faces[i].Landmarks
		if img.Reduced() { // results are in the whole picture's pixels
			faceToFull(img, &work[i].face)
		}
	}
	if err := checkpoint(StageLandmarks, 40); err != nil {
		return nil, err
	}

	done = lap(&tm.Texture)
	// Faces are independent: unwrap them in parallel, each one's rows on
	// its share of the CPUs.
	tw := max(1, texture.DefaultWorkers(o.UVSize)/max(1, parallelism(len(work))))
	err = forEach(ctx, len(work), func(i int) error {
		w := &work[i]
		var err error
		w.tex, w.stats, err = texture.Unwrap(img.NRGBA, w.px[:engine.NumMeshLandmarks], p.mesh, texture.Options{Size: o.UVSize, Workers: tw})
		if err != nil {
			return fmt.Errorf("pipeline: texture of face %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pipeline: cancelled in texture: %w", ctx.Err())
		}
		return nil, err
	}
	done()
	pct := 70
	if o.Geometry {
		pct = 60
	}
	if err := checkpoint(StageTexture, pct); err != nil {
		return nil, err
	}

	if o.Geometry {
		tm.Geometry = new(float64)
		done = lap(tm.Geometry)
		w, h := img.Full.X, img.Full.Y
		// Faces are independent: fit and rasterise them in parallel.
		err := forEach(ctx, len(work), func(i int) error {
			f := &work[i]
			pose, err := geometry.FitPose(f.face.Landmarks, w, h, p.mesh)
			if err != nil {
				// A face whose landmarks admit no pose keeps its texture;
				// it just has no geometry files.
				p.log.Warn("no pose for face", slog.Int("face", i), slog.Any("error", err))
				return nil
			}
			f.pose = &pose
			f.mesh = geometry.MetricMesh(f.face.Landmarks, w, h, pose, p.mesh)
			f.depth, f.normals = geometry.RenderMaps(f.face.Landmarks, w, h, p.mesh.Triangles)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("pipeline: geometry: %w", err)
		}
		done()
		if err := checkpoint(StageGeometry, 75); err != nil {
			return nil, err
		}
	}

	if o.Head {
		tm.Head = new(float64)
		done = lap(tm.Head)
		if err := p.fitHeads(ctx, img.NRGBA, work); err != nil {
			return nil, fmt.Errorf("pipeline: head: %w", err)
		}
		done()
		if err := checkpoint(StageHead, 85); err != nil {
			return nil, err
		}
	}

	done = lap(&tm.Encode)
	out := &Output{}
	res := Result{
		Version: ResultVersion,
		Image:   ImageInfo{Width: img.Full.X, Height: img.Full.Y, Format: img.Format, Orientation: img.Orientation},
		Model:   ModelInfo{Pack: models.PackID(), Precision: string(p.model.Precision()), Device: p.model.Device().String()},
		Options: o,
		Faces:   make([]FaceResult, 0, len(work)),
	}
	encoded := make([]faceFiles, len(work))
	err = forEach(ctx, len(work), func(i int) error {
		var err error
		encoded[i], err = p.encodeFace(i, &work[i], o.UVFormat)
		return err
	})
	for _, e := range encoded { // in face order, so the file list is deterministic
		out.Files = append(out.Files, e.files...)
		out.bufs = append(out.bufs, e.bufs...)
		res.Faces = append(res.Faces, e.result)
	}
	if err != nil {
		out.Release()
		return nil, fmt.Errorf("pipeline: encode: %w", err)
	}
	done()
	tm.Total = ms(time.Since(start))
	res.TimingsMS = tm
	buf := out.buffer()
	enc := json.NewEncoder(buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		out.Release()
		return nil, fmt.Errorf("pipeline: result.json: %w", err)
	}
	out.Result = res
	out.Files = append(out.Files, File{Path: ResultFile, ContentType: "application/json", Data: buf.Bytes()})
	progress(StageEncode, 100)
	return out, nil
}

func (o *Output) buffer() *bytes.Buffer {
	b := getBuffer()
	o.bufs = append(o.bufs, b)
	return b
}

func getBuffer() *bytes.Buffer {
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

// faceFiles is one face's encoded output.
type faceFiles struct {
	result FaceResult
	files  []File
	bufs   []*bytes.Buffer
}

// encodeFace encodes the files of face i, its UV texture in uvFormat, and
// returns them with its result entry. It is safe to run for several faces at
// once.
func (p *Pipeline) encodeFace(i int, w *faceWork, uvFormat string) (faceFiles, error) {
	dir := fmt.Sprintf("face-%d", i)
	ff := faceFiles{result: FaceResult{
		Index:       i,
		BBox:        w.face.Box,
		Score:       w.face.Score,
		Presence:    w.face.Presence,
		Landmarks:   w.face.Landmarks,
		Blendshapes: blendshapeScores(w.face.Blendshapes),
		Files:       map[string]string{},
		Pose:        w.pose,
		Texture: TextureInfo{
			Size: w.tex.Rect.Dx(), Coverage: w.stats.Coverage,
			Seen: w.stats.Seen, Mirrored: w.stats.Mirrored, Empty: w.stats.Empty,
		},
	}}
	add := func(kind string, write func(*bytes.Buffer) error) ([]byte, error) {
		b := getBuffer()
		ff.bufs = append(ff.bufs, b)
		if err := write(b); err != nil {
			return nil, fmt.Errorf("face %d: %s: %w", i, kind, err)
		}
		rel := path.Join(dir, fileNames[kind])
		ff.files = append(ff.files, File{Path: rel, ContentType: contentTypes[kind], Data: b.Bytes()})
		ff.result.Files[kind] = rel
		return b.Bytes(), nil
	}
	glbTex, err := p.encodeUV(&ff, dir, uvFormat, w.tex, w.mesh != nil) // uvtexture.go
	if err != nil {
		return ff, fmt.Errorf("face %d: %w", i, err)
	}
	if w.mesh == nil {
		return ff, nil
	}
	steps := []struct {
		kind  string
		write func(*bytes.Buffer) error
	}{
		{FileMeshOBJ, func(b *bytes.Buffer) error { return geometry.WriteOBJ(b, w.mesh, fileNames[FileMeshMTL]) }},
		{FileMeshMTL, func(b *bytes.Buffer) error { return geometry.WriteMTL(b, path.Base(ff.result.Files[FileUVTexture])) }},
		{FileMeshGLB, func(b *bytes.Buffer) error { return geometry.WriteGLB(b, w.mesh, glbTex) }},
		{FileDepth, func(b *bytes.Buffer) error { return p.png.Encode(b, w.depth) }},
		{FileNormals, func(b *bytes.Buffer) error { return p.png.Encode(b, w.normals) }},
	}
	for _, s := range steps {
		if _, err := add(s.kind, s.write); err != nil {
			return ff, err
		}
	}
	if w.head != nil {
		if err := p.encodeHead(w.head, &ff.result, add); err != nil {
			return ff, err
		}
	}
	return ff, nil
}

// parallelism is how many of n items forEach works on at once.
func parallelism(n int) int { return min(n, runtime.GOMAXPROCS(0)) }

// forEach calls fn(0..n-1) on up to GOMAXPROCS goroutines and returns the
// first error (by index). Indices not yet started when ctx is cancelled are
// skipped and ctx's error is returned.
func forEach(ctx context.Context, n int, fn func(i int) error) error {
	if n == 0 {
		return nil
	}
	errs := make([]error, n)
	workers := parallelism(n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				errs[i] = fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
