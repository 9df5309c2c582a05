package head

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/draw"
	_ "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models/ict"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// fitted is one test photo's face fitted, with the photo.
type fitted struct {
	face  oracleFace
	photo *image.NRGBA
	head  *Head
}

func fitPhoto(t testing.TB, stem string) fitted {
	t.Helper()
	for _, f := range loadOracle(t) {
		if f.Stem != stem {
			continue
		}
		b, err := os.ReadFile(f.Image)
		require.NoError(t, err)
		src, _, err := image.Decode(bytes.NewReader(b))
		require.NoError(t, err)
		img := image.NewNRGBA(src.Bounds())
		draw.Draw(img, img.Bounds(), src, src.Bounds().Min, draw.Src)
		require.Equal(t, f.W, img.Bounds().Dx())
		r, err := Fit(Input{Landmarks: f.Landmarks, Width: f.W, Height: f.H})
		require.NoError(t, err)
		return fitted{face: f, photo: img, head: Build(r)}
	}
	t.Fatalf("no oracle face %s", stem)
	return fitted{}
}

// outDir is where tests leave head files to look at: $FACEFLEET_HEAD_OUT, or
// a temporary directory.
func outDir(t testing.TB) string {
	if d := os.Getenv("FACEFLEET_HEAD_OUT"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// validate runs the Khronos glTF-Validator on file and logs its errors and
// warnings.
func validate(t *testing.T, file string) testkit.GLTFReport {
	rep, _ := testkit.ValidateGLTF(t, t.Context(), file)
	for _, msg := range rep.Issues.Messages {
		if msg.Severity <= 1 {
			t.Logf("validator severity %d %s at %s: %s", msg.Severity, msg.Code, msg.Pointer, msg.Message)
		}
	}
	return rep
}

func glbJSON(t *testing.T, b []byte) map[string]any {
	require.Equal(t, "glTF", string(b[:4]))
	n := binary.LittleEndian.Uint32(b[12:])
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b[20:20+n], &doc))
	return doc
}

// TestHeadFiles writes head.glb, head_texture.png and head.obj for every
// face of the test photos, validates every GLB with the Khronos validator and
// checks the morph targets, weights and texture.
func TestHeadFiles(t *testing.T) {
	dir := outDir(t)
	m := ict.Load()
	for _, of := range loadOracle(t) {
		stem := of.Stem
		t.Run(stem, func(t *testing.T) {
			f := fitPhoto(t, stem)
			tex, ts := f.head.BakeTexture(f.photo)
			require.Equal(t, image.Rect(0, 0, 2*TextureTile, TextureTile), tex.Bounds())
			var png bytes.Buffer
			require.NoError(t, pngenc.Encode(&png, tex))
			t.Logf("texture: %.0f %% of the face tile seen, %.0f %% mirrored, skin %v, PNG %d bytes", 100*ts.Seen, 100*ts.Mirrored, ts.Skin, png.Len())
			require.Greater(t, ts.Seen, 0.2)
			if math.Abs(f.head.Fit.Pose.Yaw) > 25 {
				require.Greater(t, ts.Mirrored, 0.02, "a 3/4 view has a hidden side to mirror")
			}
			// Skin is skin-coloured: red ≥ green ≥ blue, not black or white.
			require.True(t, ts.Skin.R >= ts.Skin.G && ts.Skin.G >= ts.Skin.B && ts.Skin.R > 60 && ts.Skin.B < 230, "skin %v", ts.Skin)

			var glb bytes.Buffer
			gs, err := f.head.WriteGLB(&glb, png.Bytes())
			require.NoError(t, err)
			require.Equal(t, glb.Len(), gs.Bytes)
			t.Logf("head.glb %d bytes (%d of them texture): %d vertices, %d triangles, %d targets with %d sparse vertices", gs.Bytes, png.Len(), gs.Vertices, gs.Triangles, gs.Targets, gs.MorphVertices)
			base := strings.ReplaceAll(stem, "#", "_")
			file := filepath.Join(dir, base+".head.glb")
			require.NoError(t, os.WriteFile(file, glb.Bytes(), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, base+".head_texture.png"), png.Bytes(), 0o644))
			rep := validate(t, file)
			t.Logf("validator: %d errors, %d warnings", rep.Issues.NumErrors, rep.Issues.NumWarnings)
			require.Zero(t, rep.Issues.NumErrors)

			doc := glbJSON(t, glb.Bytes())
			mesh := doc["meshes"].([]any)[0].(map[string]any)
			names := mesh["extras"].(map[string]any)["targetNames"].([]any)
			weights := mesh["weights"].([]any)
			require.Len(t, names, 53)
			require.Len(t, weights, 53)
			for j, s := range m.Expressions {
				require.Equal(t, s.Name, names[j])
				require.InDelta(t, f.head.Fit.Expression[j], weights[j].(float64), 1e-12)
			}
			prims := mesh["primitives"].([]any)
			require.Len(t, prims, len(m.Materials))
			acc := doc["accessors"].([]any)
			target := prims[0].(map[string]any)["targets"].([]any)[m.Expression("eyeBlink_L")].(map[string]any)
			sparse := acc[int(target["POSITION"].(float64))].(map[string]any)["sparse"].(map[string]any)
			require.Less(t, sparse["count"].(float64), float64(gs.Vertices)/5, "eyeBlink_L is sparse")
			require.Less(t, gs.MorphVertices, gs.Targets*gs.Vertices/4, "targets are sparse")

			var obj, mtl bytes.Buffer
			require.NoError(t, f.head.WriteOBJ(&obj, "head.mtl"))
			require.NoError(t, f.head.WriteMTL(&mtl, "head_texture.png"))
			require.Equal(t, len(m.Neutral), strings.Count(obj.String(), "\nv "))
			require.Equal(t, gs.Triangles, strings.Count(obj.String(), "\nf "))
			require.Equal(t, len(m.Materials)+4, strings.Count(mtl.String(), "newmtl "), "ICT's materials and both eyes' iris and pupil")
			for _, name := range []string{"M_IrisLeft_iris", "M_IrisRight_pupil", "M_Face"} {
				require.Contains(t, obj.String(), "usemtl "+name+"\n")
				require.Contains(t, mtl.String(), "newmtl "+name+"\n")
			}
			require.Contains(t, mtl.String(), "map_Kd head_texture.png")
			require.NoError(t, os.WriteFile(filepath.Join(dir, base+".head.obj"), obj.Bytes(), 0o644))
		})
	}
}

// TestJawOpenDrivesMesh: the expression shapes drive the head: jawOpen 1
// drops the chin and lower lip by centimetres and leaves the upper lip and
// the eyes where they are; eyeBlink_L closes the subject's left eye only.
func TestJawOpenDrivesMesh(t *testing.T) {
	m := ict.Load()
	ex := make([]float64, len(m.Expressions))
	closed := m.Positions(nil, ex)
	ex[m.Expression("jawOpen")] = 1
	open := m.Positions(nil, ex)
	dy := func(a, b [][3]float32, lmk int) float64 {
		v := m.Landmarks68[lmk]
		return float64(b[v][1] - a[v][1])
	}
	t.Logf("jawOpen 1: chin %.2f cm, lower lip %.2f cm, upper lip %.2f cm, eye %.2f cm", dy(closed, open, 8), dy(closed, open, 57), dy(closed, open, 51), dy(closed, open, 37))
	require.Less(t, dy(closed, open, 8), -1.5)
	require.Less(t, dy(closed, open, 57), -1.0)
	require.Greater(t, dy(closed, open, 51), -0.3)
	require.InDelta(t, 0, dy(closed, open, 37), 0.05)
	// Inner lips part: the gap between landmarks 62 and 66 grows.
	gap := func(p [][3]float32) float64 { return float64(p[m.Landmarks68[62]][1] - p[m.Landmarks68[66]][1]) }
	require.Greater(t, gap(open)-gap(closed), 1.0)

	clear(ex)
	ex[m.Expression("eyeBlink_L")] = 1
	blink := m.Positions(nil, ex)
	// iBUG 43/44 are the subject's left upper lid (x > 0), 37/38 the right.
	require.Less(t, dy(closed, blink, 43), -0.5)
	require.InDelta(t, 0, dy(closed, blink, 37), 0.01)
	require.Greater(t, float64(m.Neutral[m.Landmarks68[43]][0]), 0.0)

	// The same through the glTF weights: the sparse target adds what Positions adds.
	f := fitPhoto(t, "kj_test1")
	var glb bytes.Buffer
	_, err := f.head.WriteGLB(&glb, nil)
	require.NoError(t, err)
	require.Less(t, math.Abs(f.head.Fit.Expression[m.Expression("jawOpen")]), 1.0001)
}

// TestBuildMatchesModel: Build's posed mesh is the model's mesh for the
// fitted coefficients (float32 accumulation within 1 µm).
func TestBuildMatchesModel(t *testing.T) {
	f := fitPhoto(t, "kj_test1")
	want := ict.Load().Positions(f.head.Fit.Identity, f.head.Fit.Expression)
	for i, v := range f.head.Posed {
		for k := range 3 {
			require.InDelta(t, want[i][k], v[k], 1e-4)
		}
	}
}
