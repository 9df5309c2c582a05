package pipeline

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/shared/toolcheck"
	"github.com/facefleet/facefleet/worker/internal/engine"
)

func ortLibrary(t testing.TB) string { return engine.FindLibrary(testkit.ModuleRoot(t)) }

// shared is one CPU engine for the whole test binary: sessions take a
// while to create and the engine serialises its calls anyway.
var shared struct {
	sync.Mutex
	eng *engine.Engine
	err error
}

// realEngine returns the shared engine, skipping the test when the ONNX
// Runtime library is absent.
func realEngine(t testing.TB) *engine.Engine {
	t.Helper()
	lib := ortLibrary(t)
	if lib == "" {
		toolcheck.Missing(t, "ONNX Runtime library not found: set %s or run `make setup`", engine.LibraryEnv)
	}
	shared.Lock()
	defer shared.Unlock()
	if shared.eng == nil && shared.err == nil {
		shared.eng, shared.err = engine.New(engine.Config{LibraryPath: lib, IntraOpThreads: 1})
	}
	require.NoError(t, shared.err)
	return shared.eng
}

func photo(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.ModuleRoot(t), "worker", "testdata", "images", name))
	require.NoError(t, err)
	return b
}

// resultSchema compiles docs/result.schema.json.
func resultSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join(testkit.ModuleRoot(t), "docs", "result.schema.json"))
	require.NoError(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("result.schema.json", doc))
	s, err := c.Compile("result.schema.json")
	require.NoError(t, err)
	return s
}

func validate(t testing.TB, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	return s.Validate(inst)
}

// fakeModel places synthetic faces: the canonical mesh projected frontally
// at the given centres and scales (px per cm). It records calls and can fail.
type fakeModel struct {
	mu        sync.Mutex
	centres   [][3]float32 // x, y, scale
	detectErr error
	lmErr     error
	calls     []string
}

var _ Model = (*fakeModel)(nil)

func (m *fakeModel) Detect(ctx context.Context, img *image.NRGBA, o engine.DetectOptions) ([]engine.Detection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, "detect:"+o.Detector)
	if m.detectErr != nil {
		return nil, m.detectErr
	}
	var dets []engine.Detection
	for _, c := range m.centres {
		half := 9 * c[2]
		dets = append(dets, engine.Detection{Box: [4]float32{c[0] - half, c[1] - half, 2 * half, 2 * half}, Score: 0.9})
	}
	if o.MaxFaces > 0 && len(dets) > o.MaxFaces {
		dets = dets[:o.MaxFaces]
	}
	return dets, nil
}

func (m *fakeModel) Landmarks(ctx context.Context, img *image.NRGBA, dets []engine.Detection) ([]engine.Face, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, "landmarks")
	if m.lmErr != nil {
		return nil, m.lmErr
	}
	mesh := models.Canonical()
	var faces []engine.Face
	for _, d := range dets {
		s := d.Box[2] / 18
		cx, cy := d.Box[0]+d.Box[2]/2, d.Box[1]+d.Box[3]/2
		lm := make([][3]float32, engine.NumLandmarks)
		for i, v := range mesh.Vertices {
			lm[i] = [3]float32{cx + s*v[0], cy - s*v[1], -s * v[2]}
		}
		// Irises: centre between the eye corners, a ring of 0.05 face widths.
		for eye, c := range [2][2]int{{33, 133}, {362, 263}} {
			a, b := lm[c[0]], lm[c[1]]
			mid := [3]float32{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2}
			r := d.Box[2] / 20
			base := engine.NumMeshLandmarks + eye*engine.NumIrisLandmarks
			lm[base] = mid
			for k, off := range [4][2]float32{{r, 0}, {0, -r}, {-r, 0}, {0, r}} {
				lm[base+1+k] = [3]float32{mid[0] + off[0], mid[1] + off[1], mid[2]}
			}
		}
		bs := make([]float32, engine.NumBlendshapes)
		for i := range bs {
			bs[i] = float32(i) / engine.NumBlendshapes
		}
		faces = append(faces, engine.Face{Detection: d, Presence: 0.99, Landmarks: lm, Blendshapes: bs})
	}
	return faces, nil
}

func (m *fakeModel) Precision() models.Precision { return models.FP32 }
func (m *fakeModel) Device() engine.Device       { return engine.Device{Kind: engine.KindCPU} }

// gradientPNG is a w×h opaque PNG with a smooth pattern (textures sample it).
func gradientPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}
