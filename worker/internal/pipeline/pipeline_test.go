package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	stdimage "image"
	"image/jpeg"
	"image/png"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// checkOutput verifies the invariants every Output must satisfy and returns
// the files by path.
func checkOutput(t *testing.T, out *Output, o Options) map[string]File {
	t.Helper()
	require.NotEmpty(t, out.Files)
	last := out.Files[len(out.Files)-1]
	require.Equal(t, ResultFile, last.Path, "result.json comes last")
	var parsed Result
	require.NoError(t, json.Unmarshal(last.Data, &parsed))
	require.Equal(t, out.Result, parsed, "result.json matches Output.Result")
	require.NoError(t, validate(t, resultSchema(t), last.Data))
	require.NotContains(t, string(last.Data), `"faces": null`)

	byPath := map[string]File{}
	for _, f := range out.Files {
		byPath[f.Path] = f
		require.NotEmpty(t, f.Data, f.Path)
		require.NotEmpty(t, f.ContentType, f.Path)
	}
	require.Len(t, byPath, len(out.Files), "no duplicate paths")
	r := out.Result
	require.Equal(t, o.WithDefaults(), r.Options)
	require.Equal(t, models.PackID(), r.Model.Pack)
	require.Equal(t, o.Geometry, r.TimingsMS.Geometry != nil, "geometry timing present only when requested")
	sum := r.TimingsMS.Decode + r.TimingsMS.Detect + r.TimingsMS.Landmarks + r.TimingsMS.Texture + r.TimingsMS.Encode
	if r.TimingsMS.Geometry != nil {
		sum += *r.TimingsMS.Geometry
	}
	require.LessOrEqual(t, sum, r.TimingsMS.Total+0.01)
	for i, f := range r.Faces {
		require.Equal(t, i, f.Index)
		if i > 0 {
			require.LessOrEqual(t, r.Faces[i-1].BBox[0], f.BBox[0], "faces left to right")
		}
		require.Len(t, f.Landmarks, engine.NumLandmarks)
		require.Len(t, f.Blendshapes, engine.NumBlendshapes-1, "every blendshape but _neutral")
		require.NotContains(t, f.Blendshapes, "_neutral")
		wantKinds := []string{FileUVTexture}
		if r.Options.UVFormat == job.UVFormatJPEG {
			wantKinds = append(wantKinds, FileUVAlpha)
		}
		if o.Geometry {
			require.NotNil(t, f.Pose)
			wantKinds = append(wantKinds, FileMeshOBJ, FileMeshMTL, FileMeshGLB, FileDepth, FileNormals)
		} else {
			require.Nil(t, f.Pose)
		}
		require.Len(t, f.Files, len(wantKinds))
		for _, k := range wantKinds {
			p := f.Files[k]
			require.True(t, strings.HasPrefix(p, "face-"), p)
			_, ok := byPath[p]
			require.True(t, ok, "file %s listed in result.json is in Output.Files", p)
		}
		tex := decodeUV(t, r.Options.UVFormat, byPath[f.Files[FileUVTexture]]) // uvtexture_test.go
		require.Equal(t, r.Options.UVSize, tex.Bounds().Dx())
		require.Equal(t, r.Options.UVSize, tex.Bounds().Dy())
	}
	wantFiles := 1
	for _, f := range r.Faces {
		wantFiles += len(f.Files)
	}
	require.Len(t, out.Files, wantFiles, "every file is listed in result.json")
	return byPath
}

func TestRunRealPhotos(t *testing.T) {
	t.Parallel()
	p := New(realEngine(t), imagedecode.DefaultLimits(), testkit.Logger(t))
	for _, tc := range []struct {
		image string
		faces int
		o     Options
	}{
		{"ddfa_jianzhuguo.jpg", 1, Options{}},
		{"ddfa_jianzhuguo.jpg", 1, Options{Geometry: true, UVSize: 256, Detector: "full"}},
		{"bf_Test3.jpg", 3, Options{UVSize: 512}},
		{"bf_Test3.jpg", 2, Options{UVSize: 256, MaxFaces: 2}},
		{"kj_test1.jpg", 1, Options{Geometry: true, UVSize: 256}},
	} {
		out, err := p.Run(t.Context(), photo(t, tc.image), tc.o, nil)
		require.NoError(t, err, tc.image)
		require.Len(t, out.Result.Faces, tc.faces, tc.image)
		files := checkOutput(t, out, tc.o)
		for _, f := range out.Result.Faces {
			// Landmarks lie in the image and mostly inside the (padded) box.
			b := f.BBox
			inside := 0
			for _, l := range f.Landmarks {
				require.True(t, l[0] >= 0 && l[1] >= 0 && l[0] <= float32(out.Result.Image.Width) && l[1] <= float32(out.Result.Image.Height))
				if l[0] >= b[0]-b[2]/4 && l[0] <= b[0]+b[2]*5/4 && l[1] >= b[1]-b[3]/2 && l[1] <= b[1]+b[3]*5/4 {
					inside++
				}
			}
			require.Greater(t, inside, 440, "%s face %d: landmarks near the box", tc.image, f.Index)
			require.Greater(t, f.Texture.Coverage, 0.8)
			if tc.o.Geometry {
				require.Less(t, abs(f.Pose.Yaw), 45.0)
				require.Less(t, abs(f.Pose.Roll), 45.0)
				d, err := png.Decode(bytes.NewReader(files[f.Files[FileDepth]].Data))
				require.NoError(t, err)
				require.Equal(t, out.Result.Image.Width, d.Bounds().Dx())
				glb := files[f.Files[FileMeshGLB]].Data
				require.Equal(t, "glTF", string(glb[:4]))
			}
		}
		out.Release()
	}
}

func abs(x float64) float64 { return max(x, -x) }

func TestRunNoFace(t *testing.T) {
	t.Parallel()
	p := New(realEngine(t), imagedecode.DefaultLimits(), testkit.Logger(t))
	out, err := p.Run(t.Context(), gradientPNG(t, 320, 240), Options{}, nil)
	require.NoError(t, err)
	require.Empty(t, out.Result.Faces)
	require.NotNil(t, out.Result.Faces)
	checkOutput(t, out, Options{})
	require.Contains(t, string(out.Files[0].Data), `"faces": []`)
}

func TestRunSortsFacesLeftToRight(t *testing.T) {
	t.Parallel()
	m := &fakeModel{centres: [][3]float32{{500, 200, 8}, {120, 220, 6}, {320, 180, 7}}}
	p := New(m, imagedecode.Limits{}, testkit.Logger(t))
	o := Options{UVSize: 256, Geometry: true}
	out, err := p.Run(t.Context(), gradientPNG(t, 640, 400), o, nil)
	require.NoError(t, err)
	require.Len(t, out.Result.Faces, 3)
	checkOutput(t, out, o)
	xs := []float32{out.Result.Faces[0].BBox[0], out.Result.Faces[1].BBox[0], out.Result.Faces[2].BBox[0]}
	require.InDelta(t, 120-9*6, xs[0], 1e-3)
	require.InDelta(t, 320-9*7, xs[1], 1e-3)
	require.InDelta(t, 500-9*8, xs[2], 1e-3)
	// A frontal synthetic face fits an upright, frontal pose.
	for _, f := range out.Result.Faces {
		require.InDelta(t, 0, f.Pose.Yaw, 1)
		require.InDelta(t, 0, f.Pose.Pitch, 1)
		require.InDelta(t, 0, f.Pose.Roll, 1)
	}
}

func TestRunProgressAndGeometrySkipped(t *testing.T) {
	t.Parallel()
	m := &fakeModel{centres: [][3]float32{{200, 200, 8}}}
	p := New(m, imagedecode.Limits{}, testkit.Logger(t))
	for _, geo := range []bool{false, true} {
		var stages []string
		last := -1
		o := Options{UVSize: 256, Geometry: geo, Detector: "full"}
		out, err := p.Run(t.Context(), gradientPNG(t, 400, 400), o, func(stage string, pct int) {
			require.Greater(t, pct, last)
			last = pct
			stages = append(stages, stage)
		})
		require.NoError(t, err)
		checkOutput(t, out, o)
		want := []string{StageDecode, StageDetect, StageLandmarks, StageTexture, StageEncode}
		if geo {
			want = []string{StageDecode, StageDetect, StageLandmarks, StageTexture, StageGeometry, StageEncode}
		}
		require.Equal(t, want, stages)
		require.Equal(t, 100, last)
	}
	require.Equal(t, []string{"detect:full", "landmarks", "detect:full", "landmarks"}, m.calls)
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	m := &fakeModel{centres: [][3]float32{{200, 200, 8}}}
	p := New(m, imagedecode.Limits{}, testkit.Logger(t))
	data := gradientPNG(t, 400, 400)
	for _, after := range []string{StageDecode, StageDetect, StageLandmarks, StageTexture, StageGeometry} {
		ctx, cancel := context.WithCancel(t.Context())
		var seen []string
		_, err := p.Run(ctx, data, Options{Geometry: true, UVSize: 256}, func(stage string, _ int) {
			seen = append(seen, stage)
			if stage == after {
				cancel()
			}
		})
		require.ErrorIs(t, err, context.Canceled, after)
		require.Equal(t, after, seen[len(seen)-1], "no stage runs after the cancel")
		cancel()
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := p.Run(ctx, data, Options{}, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("device lost")
	data := gradientPNG(t, 64, 64)
	for _, tc := range []struct {
		name   string
		model  *fakeModel
		data   []byte
		o      Options
		target error
		code   string
	}{
		{"bad-image", &fakeModel{}, []byte("nope"), Options{}, imagedecode.ErrBadImage, "image_undecodable"},
		{"empty-image", &fakeModel{}, nil, Options{}, imagedecode.ErrBadImage, "image_empty"},
		{"uv-size", &fakeModel{}, data, Options{UVSize: 100}, ErrInvalidOptions, "invalid_options"},
		{"detector", &fakeModel{}, data, Options{Detector: "medium"}, ErrInvalidOptions, "invalid_options"},
		{"max-faces", &fakeModel{}, data, Options{MaxFaces: -1}, ErrInvalidOptions, "invalid_options"},
		{"detect-fails", &fakeModel{detectErr: boom}, data, Options{}, boom, ""},
		{"landmarks-fail", &fakeModel{centres: [][3]float32{{32, 32, 2}}, lmErr: boom}, data, Options{}, boom, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := New(tc.model, imagedecode.Limits{}, testkit.Logger(t)).Run(t.Context(), tc.data, tc.o, nil)
			require.Nil(t, out)
			require.ErrorIs(t, err, tc.target)
			var c interface{ Code() string }
			if tc.code != "" {
				require.ErrorAs(t, err, &c)
				require.Equal(t, tc.code, c.Code())
			} else {
				require.False(t, errors.As(err, &c), "transient errors carry no permanent code")
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, Options{}.Validate())
	require.Equal(t, Options{UVSize: 1024, UVFormat: "png", Detector: "short", MaxFaces: 16}, Options{}.WithDefaults())
	err := Options{UVSize: 5000, Detector: "x", MaxFaces: 33}.Validate()
	var oe *OptionError
	require.ErrorAs(t, err, &oe)
	require.Len(t, oe.Problems, 3, "every problem reported at once")
	require.ErrorIs(t, err, ErrInvalidOptions)
	require.NoError(t, Options{UVSize: 4096, Detector: "full", MaxFaces: 16, Geometry: true}.Validate())
}

func TestSchemaRejectsBrokenResults(t *testing.T) {
	t.Parallel()
	m := &fakeModel{centres: [][3]float32{{100, 100, 5}}}
	out, err := New(m, imagedecode.Limits{}, testkit.Logger(t)).Run(t.Context(), gradientPNG(t, 200, 200), Options{UVSize: 256}, nil)
	require.NoError(t, err)
	s := resultSchema(t)
	good := out.Files[len(out.Files)-1].Data
	require.NoError(t, validate(t, s, good))
	for name, mutate := range map[string]func(r map[string]any){
		"no-version":      func(r map[string]any) { delete(r, "version") },
		"extra-field":     func(r map[string]any) { r["surprise"] = 1 },
		"bad-format":      func(r map[string]any) { r["image"].(map[string]any)["format"] = "gif" },
		"geometry-timing": func(r map[string]any) { r["timings_ms"].(map[string]any)["geometry"] = 1.0 },
		"short-landmarks": func(r map[string]any) {
			f := r["faces"].([]any)[0].(map[string]any)
			f["landmarks"] = f["landmarks"].([]any)[:10]
		},
		"pose-without-geom": func(r map[string]any) { r["faces"].([]any)[0].(map[string]any)["pose"] = map[string]any{} },
		"bad-path": func(r map[string]any) {
			r["faces"].([]any)[0].(map[string]any)["files"].(map[string]any)["uv_texture"] = "../x.png"
		},
		"obj-without-others": func(r map[string]any) {
			r["faces"].([]any)[0].(map[string]any)["files"].(map[string]any)["mesh_obj"] = "face-0/mesh.obj"
		},
	} {
		var r map[string]any
		require.NoError(t, json.Unmarshal(good, &r))
		mutate(r)
		b, err := json.Marshal(r)
		require.NoError(t, err)
		require.Error(t, validate(t, s, b), name)
	}
}

func TestForEach(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[int]bool{}
	require.NoError(t, forEach(t.Context(), 50, func(i int) error {
		mu.Lock()
		defer mu.Unlock()
		seen[i] = true
		return nil
	}))
	require.Len(t, seen, 50)
	require.NoError(t, forEach(t.Context(), 0, func(int) error { panic("not called") }))

	e3, e7 := errors.New("three"), errors.New("seven")
	err := forEach(t.Context(), 10, func(i int) error {
		switch i {
		case 3:
			return e3
		case 7:
			return e7
		}
		return nil
	})
	require.ErrorIs(t, err, e3, "the lowest index's error wins")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	err = forEach(ctx, 5, func(int) error { calls++; return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, calls)
}

// TestRunManyFacesParallel runs several synthetic faces with geometry, so
// the per-face goroutines of the geometry and encode stages overlap (run
// with -race).
func TestRunManyFacesParallel(t *testing.T) {
	t.Parallel()
	var centres [][3]float32
	for i := range 6 {
		centres = append(centres, [3]float32{float32(60 + 100*i), 150, 4})
	}
	m := &fakeModel{centres: centres}
	o := Options{Geometry: true, UVSize: 256, MaxFaces: 6}
	out, err := New(m, imagedecode.Limits{}, testkit.Logger(t)).Run(t.Context(), gradientPNG(t, 660, 300), o, nil)
	require.NoError(t, err)
	require.Len(t, out.Result.Faces, 6)
	files := checkOutput(t, out, o)
	for i := range 6 {
		require.Contains(t, files, fmt.Sprintf("face-%d/mesh.glb", i))
	}
	out.Release()
	require.Nil(t, out.Files)
}

// TestRunAppliesEXIFOrientation stores a real photo rotated 90° CCW with
// EXIF orientation 6 (display = rotate 90° CW): the pipeline must see the
// upright photo and find the same face as in the original.
func TestRunAppliesEXIFOrientation(t *testing.T) {
	t.Parallel()
	p := New(realEngine(t), imagedecode.DefaultLimits(), testkit.Logger(t))
	orig := photo(t, "ddfa_jianzhuguo.jpg")
	up, err := imagedecode.Decode(orig, imagedecode.Limits{})
	require.NoError(t, err)
	w, h := up.Rect.Dx(), up.Rect.Dy()
	stored := stdimage.NewNRGBA(stdimage.Rect(0, 0, h, w)) // rotated 90° CCW
	for y := range h {
		for x := range w {
			stored.SetNRGBA(y, w-1-x, up.NRGBAAt(x, y))
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, stored, &jpeg.Options{Quality: 95}))
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00")
	seg := append([]byte("Exif\x00\x00"), tiff...)
	j := buf.Bytes()
	rotated := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	rotated = append(rotated, j[2:]...)

	want, err := p.Run(t.Context(), orig, Options{UVSize: 256}, nil)
	require.NoError(t, err)
	got, err := p.Run(t.Context(), rotated, Options{UVSize: 256}, nil)
	require.NoError(t, err)
	require.Equal(t, 6, got.Result.Image.Orientation)
	require.Equal(t, [2]int{w, h}, [2]int{got.Result.Image.Width, got.Result.Image.Height})
	require.Len(t, got.Result.Faces, 1)
	for k := range 4 {
		require.InDelta(t, want.Result.Faces[0].BBox[k], got.Result.Faces[0].BBox[k], 4)
	}
	for i, l := range want.Result.Faces[0].Landmarks {
		g := got.Result.Faces[0].Landmarks[i]
		require.InDelta(t, l[0], g[0], 6)
		require.InDelta(t, l[1], g[1], 6)
	}
}
