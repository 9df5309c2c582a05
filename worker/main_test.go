package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/toolcheck"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden result.json files under testdata/golden")

func ortLib(t *testing.T) string {
	t.Helper()
	p := engine.FindLibrary(".")
	if p == "" {
		toolcheck.Missing(t, "ONNX Runtime library not found: set %s or run `make setup`", engine.LibraryEnv)
	}
	return p
}

// runCmd runs the command line and returns stdout, stderr and the error.
func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, &out, &errOut)
	t.Logf("worker %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errOut.String())
	return out.String(), errOut.String(), err
}

func image(name string) string { return filepath.Join("testdata", "images", name) }

func readResult(t *testing.T, path string) pipeline.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var r pipeline.Result
	require.NoError(t, json.Unmarshal(b, &r))
	return r
}

// listFiles returns the files under dir, relative, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files = append(files, filepath.ToSlash(rel))
		return nil
	}))
	sort.Strings(files)
	return files
}

// compareGolden checks got against want within tolerances that absorb
// floating-point differences between machines and thread counts, not
// behaviour changes.
func compareGolden(t *testing.T, name string, want, got pipeline.Result) {
	t.Helper()
	require.Equal(t, want.Version, got.Version, name)
	require.Equal(t, want.Image, got.Image, name)
	// The pack id changes with any model file (FP16 regeneration included);
	// compare its name, and precision and device exactly.
	require.Equal(t, strings.Split(want.Model.Pack, "@")[0], strings.Split(got.Model.Pack, "@")[0], name)
	require.Equal(t, want.Model.Precision, got.Model.Precision, name)
	require.Equal(t, want.Model.Device, got.Model.Device, name)
	require.Equal(t, want.Options, got.Options, name)
	require.Equal(t, want.TimingsMS.Geometry != nil, got.TimingsMS.Geometry != nil, name)
	require.Len(t, got.Faces, len(want.Faces), name)
	for i, w := range want.Faces {
		g := got.Faces[i]
		require.Equal(t, w.Index, g.Index)
		require.Equal(t, w.Files, g.Files)
		for k := range 4 {
			require.InDelta(t, w.BBox[k], g.BBox[k], 2, "%s face %d bbox", name, i)
		}
		require.InDelta(t, w.Score, g.Score, 0.02)
		require.InDelta(t, w.Presence, g.Presence, 0.02)
		var sum float64
		for j := range w.Landmarks {
			for k := range 3 {
				d := float64(w.Landmarks[j][k] - g.Landmarks[j][k])
				require.InDelta(t, 0, d, 6, "%s face %d landmark %d", name, i, j)
				sum += max(d, -d)
			}
		}
		require.Less(t, sum/float64(3*len(w.Landmarks)), 1.0, "%s face %d: mean landmark drift in px", name, i)
		require.InDelta(t, w.Texture.Coverage, g.Texture.Coverage, 0.02)
		require.Equal(t, w.Pose == nil, g.Pose == nil)
		if w.Pose != nil {
			require.InDelta(t, w.Pose.Pitch, g.Pose.Pitch, 2)
			require.InDelta(t, w.Pose.Yaw, g.Pose.Yaw, 2)
			require.InDelta(t, w.Pose.Roll, g.Pose.Roll, 2)
			require.InEpsilon(t, w.Pose.Scale, g.Pose.Scale, 0.03)
		}
	}
}

// TestReconstructGolden runs the command end to end on the real photos in
// testdata and compares each result.json with its golden file.
func TestReconstructGolden(t *testing.T) {
	t.Parallel()
	lib := ortLib(t)
	for _, tc := range []struct {
		name  string
		args  []string
		stems []string
	}{
		{"texture", []string{"--uv-size", "256", "--precision", "fp32"}, []string{"bf_Test3", "ddfa_jianzhuguo", "kj_test1"}},
		{"geometry", []string{"--uv-size", "256", "--precision", "fp32", "--geometry", "--detector", "full"}, []string{"ddfa_jianzhuguo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			args := append([]string{"reconstruct", "--ort-lib", lib, "--threads", "1", "-o", out}, tc.args...)
			for _, s := range tc.stems {
				args = append(args, image(s+".jpg"))
			}
			stdout, _, err := runCmd(t, args...)
			require.NoError(t, err)
			require.Equal(t, len(tc.stems), strings.Count(stdout, "face(s)"))
			for _, s := range tc.stems {
				got := filepath.Join(out, s, "result.json")
				golden := filepath.Join("testdata", "golden", tc.name, s+".json")
				if *update {
					b, err := os.ReadFile(got)
					require.NoError(t, err)
					require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
					require.NoError(t, os.WriteFile(golden, b, 0o644))
				}
				res := readResult(t, got)
				compareGolden(t, s, readResult(t, golden), res)

				// Exactly the files result.json lists, plus result.json.
				want := []string{"result.json"}
				for _, f := range res.Faces {
					for _, p := range f.Files {
						want = append(want, p)
					}
				}
				sort.Strings(want)
				require.Equal(t, want, listFiles(t, filepath.Join(out, s)))
			}
		})
	}
}

// TestReconstructGeometryFiles checks that geometry files appear only with
// --geometry, and that rerunning replaces a previous result directory.
func TestReconstructGeometryFiles(t *testing.T) {
	t.Parallel()
	lib := ortLib(t)
	out := t.TempDir()
	base := []string{"reconstruct", "--ort-lib", lib, "--threads", "1", "--uv-size", "256", "-o", out, image("ddfa_jianzhuguo.jpg")}
	_, _, err := runCmd(t, append(base, "--geometry")...)
	require.NoError(t, err)
	dir := filepath.Join(out, "ddfa_jianzhuguo")
	require.Equal(t, []string{
		"face-0/depth.png", "face-0/mesh.glb", "face-0/mesh.mtl", "face-0/mesh.obj",
		"face-0/normals.png", "face-0/uv_texture.png", "result.json",
	}, listFiles(t, dir))
	r := readResult(t, filepath.Join(dir, "result.json"))
	require.NotNil(t, r.TimingsMS.Geometry)
	require.NotNil(t, r.Faces[0].Pose)

	_, _, err = runCmd(t, base...)
	require.NoError(t, err)
	require.Equal(t, []string{"face-0/uv_texture.png", "result.json"}, listFiles(t, dir), "stale geometry files are gone")
	r = readResult(t, filepath.Join(dir, "result.json"))
	require.Nil(t, r.TimingsMS.Geometry)
	require.Nil(t, r.Faces[0].Pose)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), st.Mode().Perm())
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary directories left behind")
}

// TestReconstructBadInput: a bad image fails with its typed error while the
// others are still processed, and the command exits non-zero.
func TestReconstructBadInput(t *testing.T) {
	t.Parallel()
	lib := ortLib(t)
	out := t.TempDir()
	big := filepath.Join(t.TempDir(), "huge.jpg")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte{0xFF, 0xD8, 0xFF}, 40_000), 0o644))
	_, stderr, err := runCmd(t, "reconstruct", "--ort-lib", lib, "--threads", "1", "--uv-size", "256", "-o", out,
		filepath.Join("testdata", "bad.jpg"), image("ddfa_jianzhuguo.jpg"), "--max-image-bytes", "100000", big, "missing.png")
	require.Error(t, err)
	require.ErrorIs(t, err, imagedecode.ErrBadImage)
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Contains(t, err.Error(), "3 of 4 images failed")
	var ie *ImageError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, filepath.Join("testdata", "bad.jpg"), ie.Image)
	require.Contains(t, stderr, "bad.jpg: image_undecodable")
	require.Contains(t, stderr, "huge.jpg: image_too_large")
	require.FileExists(t, filepath.Join(out, "ddfa_jianzhuguo", "result.json"))
	require.NoDirExists(t, filepath.Join(out, "bad"))
}

func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		target error
		text   string
	}{
		{"no-command", nil, errUsage, "usage: worker"},
		{"unknown", []string{"frobnicate"}, errUsage, `unknown command "frobnicate"`},
		{"no-outdir", []string{"reconstruct", "x.jpg"}, errUsage, "usage: worker reconstruct"},
		{"no-images", []string{"reconstruct", "-o", "out"}, errUsage, "usage: worker reconstruct"},
		{"bad-flag", []string{"reconstruct", "--nope"}, errUsage, "flag provided but not defined"},
		{"uv-size", []string{"reconstruct", "-o", "out", "--uv-size", "99", "x.jpg"}, pipeline.ErrInvalidOptions, ""},
		{"detector", []string{"reconstruct", "-o", "out", "--detector", "mid", "x.jpg"}, pipeline.ErrInvalidOptions, ""},
		{"dup-stems", []string{"reconstruct", "-o", "out", "a/x.jpg", "b/x.png"}, nil, ""},
		{"precision", []string{"reconstruct", "-o", "out", "--precision", "int8", "x.jpg"}, nil, ""},
		{"device", []string{"reconstruct", "-o", "out", "--device", "gpu", "x.jpg"}, engine.ErrInvalidDevice, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := runCmd(t, tc.args...)
			require.Error(t, err)
			if tc.target != nil {
				require.ErrorIs(t, err, tc.target)
			}
			if tc.text != "" {
				require.Contains(t, stderr, tc.text)
			}
		})
	}
	stdout, _, err := runCmd(t, "help")
	require.NoError(t, err)
	require.Contains(t, stdout, "reconstruct")
}

// TestBench runs `worker bench` on one small image with one pass and checks
// that every figure the command promises is printed.
func TestBench(t *testing.T) {
	t.Parallel()
	lib := ortLib(t)
	dir := t.TempDir()
	b, err := os.ReadFile(image("ddfa_jianzhuguo.jpg"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.jpg"), b, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("skipped"), 0o644))
	stdout, _, err := runCmd(t, "bench", "--ort-lib", lib, "--threads", "1", "--images", dir, "--n", "1", "--uv-size", "256")
	require.NoError(t, err)
	for _, want := range []string{"bench: 1 images", "fp32", "fp16", "bare img/s", "pipeline/bare", "e2e ms/image", "cpu ms/image", "slots img/s", "stages (share", "decode", "encode", "peak RSS:", "faster precision"} {
		require.Contains(t, stdout, want)
	}
	// -json carries the same figures, per-stage CPU included.
	// -peer reads the MediaPipe oracle's outputs for the same images.
	peer := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(peer, "a.json"), []byte(`{"image":"a.jpg","faces":[],"ms":100}`), 0o644))
	_, _, err = runCmd(t, "bench", "--ort-lib", lib, "--images", dir, "--n", "1", "--precisions", "fp32", "--slots", "0", "--peer", peer)
	require.ErrorContains(t, err, "a.refine.json", "every image needs both oracle files")
	// Bounds come from the worker's config.
	_, _, err = runCmd(t, "bench", "--ort-lib", lib, "--images", dir, "--gc-percent", "0")
	require.ErrorContains(t, err, "gc_percent")
	// -no-bare: the pipeline alone (a worker's memory), no bare figures.
	stdout, _, err = runCmd(t, "bench", "--ort-lib", lib, "--images", dir, "--n", "1", "--uv-size", "256", "--precisions", "fp32", "--slots", "0", "--no-bare")
	require.NoError(t, err)
	require.Regexp(t, `fp32\s+1\s+0\.0\s+0\.00\s+0\.00\s+[0-9.]+\s+n/a`, stdout)
	require.NoError(t, os.WriteFile(filepath.Join(peer, "a.refine.json"), []byte(`{"image":"a.jpg","faces":[],"ms":300}`), 0o644))
	stdout, _, err = runCmd(t, "bench", "--ort-lib", lib, "--images", dir, "--n", "1", "--uv-size", "256", "--precisions", "fp32", "--slots", "2", "--json", "--peer", peer)
	require.NoError(t, err)
	var rep struct {
		Peer struct {
			Images   int     `json:"images"`
			Base     float64 `json:"base_ms_per_image"`
			Refine   float64 `json:"refine_ms_per_image"`
			PerImage []struct {
				Name   string  `json:"name"`
				Refine float64 `json:"refine_ms"`
			} `json:"per_image"`
		} `json:"mediapipe"`
		Results []struct {
			StageCPU     map[string]float64 `json:"stage_cpu_ms_per_image"`
			CPUMS        float64            `json:"cpu_ms_per_image"`
			E2EMS        float64            `json:"e2e_ms_per_image"`
			Slots        int                `json:"slots"`
			SlotsIPS     float64            `json:"slots_images_per_s"`
			BareIPS      float64            `json:"bare_images_per_s"`
			PipelineIPS  float64            `json:"pipeline_images_per_s"`
			FacesPerPass int                `json:"faces_per_pass"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	require.Len(t, rep.Results, 1)
	require.Equal(t, 1, rep.Peer.Images)
	require.InDelta(t, 100, rep.Peer.Base, 1e-9)
	require.InDelta(t, 300, rep.Peer.Refine, 1e-9)
	require.Len(t, rep.Peer.PerImage, 1)
	require.Equal(t, "a.jpg", rep.Peer.PerImage[0].Name)
	require.InDelta(t, 300, rep.Peer.PerImage[0].Refine, 1e-9)
	r := rep.Results[0]
	require.Equal(t, 2, r.Slots)
	require.Positive(t, r.SlotsIPS)
	require.Positive(t, r.E2EMS)
	require.Positive(t, r.FacesPerPass)
	require.Positive(t, r.BareIPS)
	require.Positive(t, r.PipelineIPS)
	var stageSum float64
	for _, st := range []string{"decode", "detect", "landmarks", "texture", "encode"} {
		require.Positive(t, r.StageCPU[st], st)
		stageSum += r.StageCPU[st]
	}
	// The stages' CPU is the pipeline's CPU, less what runs between them.
	require.InDelta(t, r.CPUMS, stageSum, 0.25*r.CPUMS)
	// -write-mix writes the 20-photo mix.
	mixDir := t.TempDir()
	stdout, _, err = runCmd(t, "bench", "--write-mix", mixDir)
	require.NoError(t, err)
	require.Contains(t, stdout, "wrote 20 photos")
	written, err := os.ReadDir(mixDir)
	require.NoError(t, err)
	require.Len(t, written, 20)
	_, _, err = runCmd(t, "bench", "--ort-lib", lib, "--images", t.TempDir())
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "no .jpg"))
}
