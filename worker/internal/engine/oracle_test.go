package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// oracleResult is one MediaPipe reference of testdata/oracle/ (see its
// README): <stem>.json (Face Mesh, 468 points), <stem>.refine.json (478) or
// <stem>.landmarker.json (Face Landmarker: 478 points and blendshapes).
type oracleResult struct {
	Width, Height int
	Faces         []struct {
		Landmarks   [][3]float64       `json:"landmarks"`
		Blendshapes map[string]float64 `json:"blendshapes"`
	} `json:"faces"`
}

// oracleCase is one test photo run through the engine beside its reference.
type oracleCase struct {
	stem  string
	want  oracleResult
	faces []Face // left to right by mean landmark x, as the references
}

// oracleCases runs every photo with a testdata/oracle/<stem><suffix>
// reference through decode → short-range detection (every face) → landmarks,
// as `worker reconstruct` does.
func oracleCases(t *testing.T, e *Engine, suffix string) []oracleCase {
	t.Helper()
	refs, err := filepath.Glob(filepath.Join("testdata", "oracle", "*"+suffix))
	require.NoError(t, err)
	var cases []oracleCase
	for _, ref := range refs {
		stem := strings.TrimSuffix(filepath.Base(ref), suffix)
		if strings.Contains(stem, ".") { // <stem>.refine.json when suffix is .json
			continue
		}
		c := oracleCase{stem: stem}
		b, err := os.ReadFile(ref)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &c.want))
		data, err := os.ReadFile(filepath.Join("testdata", stem+".jpg"))
		require.NoError(t, err)
		img, err := imagedecode.Decode(data, imagedecode.DefaultLimits())
		require.NoError(t, err)
		require.Equal(t, [2]int{c.want.Width, c.want.Height}, [2]int{img.Rect.Dx(), img.Rect.Dy()}, stem)
		dets, err := e.Detect(context.Background(), img.NRGBA, DetectOptions{Detector: DetectorShort})
		require.NoError(t, err)
		if c.faces, err = e.Landmarks(context.Background(), img.NRGBA, dets); err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(c.faces, func(a, b Face) int {
			return int(math.Copysign(1, meanX(a.Landmarks)-meanX(b.Landmarks)))
		})
		cases = append(cases, c)
	}
	require.GreaterOrEqual(t, len(cases), 9, "oracle references *%s missing", suffix)
	return cases
}

// Parity budget against MediaPipe's solution (issue 7): mean Euclidean
// landmark distance / inter-ocular distance |p33 − p263|, and the mean
// signed offset per axis.
const (
	parityFrontal    = 0.005 // ≤ 0.5 % IOD
	parityProfile    = 0.015 // ≤ 1.5 % IOD
	parityMeanOffset = 0.5   // px per axis
)

// profileFaces are the turned faces of the test photos (by photo and index
// left to right), graded with parityProfile.
var profileFaces = map[string][]int{"ddfa_emma": {1, 2}}

type parityRow struct {
	photo      string
	face       int
	iod, err   float64 // err: mean distance / IOD
	dx, dy     float64
	budget     float64
	maxPx      float64
	found, ref int
}

func (r parityRow) ok() bool {
	return r.found == r.ref && r.err <= r.budget && math.Abs(r.dx) <= parityMeanOffset && math.Abs(r.dy) <= parityMeanOffset
}

// TestParityWithMediaPipe runs what `worker reconstruct` runs (decode →
// short-range detection with every face → 468 landmarks, FP32 on the CPU)
// on every test photo and compares with MediaPipe's own landmarks: the same
// faces, and landmarks within the parity budget.
func TestParityWithMediaPipe(t *testing.T) {
	e := setup(t)
	var rows []parityRow
	for _, c := range oracleCases(t, e, ".json") {
		stem, want, faces := c.stem, c.want, c.faces
		for i, wf := range want.Faces {
			o := wf.Landmarks
			row := parityRow{photo: stem, face: i, found: len(faces), ref: len(want.Faces), budget: parityFrontal, err: math.Inf(1)}
			if slices.Contains(profileFaces[stem], i) {
				row.budget = parityProfile
			}
			row.iod = math.Hypot(o[33][0]-o[263][0], o[33][1]-o[263][1])
			if i < len(faces) {
				got := faces[i].Landmarks
				var sum float64
				for k := range NumMeshLandmarks {
					dx, dy := float64(got[k][0])-o[k][0], float64(got[k][1])-o[k][1]
					d := math.Hypot(dx, dy)
					sum += d
					row.dx += dx / NumMeshLandmarks
					row.dy += dy / NumMeshLandmarks
					row.maxPx = max(row.maxPx, d)
				}
				row.err = sum / NumMeshLandmarks / row.iod
			}
			rows = append(rows, row)
		}
		if len(faces) > len(want.Faces) {
			rows = append(rows, parityRow{photo: stem, face: len(want.Faces), found: len(faces), ref: len(want.Faces), err: math.Inf(1)})
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-34s %4s %6s %8s %8s %7s %7s %7s %s\n", "photo", "face", "found", "IOD px", "err%IOD", "budget", "dx px", "dy px", "max px")
	failed := false
	for _, r := range rows {
		mark := ""
		if !r.ok() {
			mark, failed = "  ✗", true
		}
		fmt.Fprintf(&table, "%-34s %4d %3d/%-2d %8.1f %8.3f %7.2f %+7.2f %+7.2f %6.2f%s\n",
			r.photo, r.face, r.found, r.ref, r.iod, 100*r.err, 100*r.budget, r.dx, r.dy, r.maxPx, mark)
	}
	t.Logf("landmarks vs MediaPipe's Face Mesh solution (%s decoder):\n%s", imagedecode.JPEGDecoder, table.String())
	if failed {
		t.Fatalf("landmarks differ from MediaPipe's beyond the parity budget (%.1f %% frontal, %.1f %% profile IOD, %.1f px mean offset):\n%s",
			100*parityFrontal, 100*parityProfile, parityMeanOffset, table.String())
	}
}

func meanX(l [][3]float32) float64 {
	var s float64
	for _, p := range l {
		s += float64(p[0])
	}
	return s / float64(len(l))
}

// irisBudget: every iris centre within 2 % of the IOD of MediaPipe's
// refined mesh (issue 8). The irises come from the same model MediaPipe's
// refineLandmarks runs (face_landmark_with_attention): measured 0.007–0.34 %
// on the 13 faces (worst ddfa_emma face 2, turned); the standalone iris model
// this replaced was 7–10 % off on three turned or side-gazing eyes.
const irisBudget = 0.02

// TestIrisMatchesMediaPipe compares the two iris centres (468, 473) of every
// face with testdata/oracle/<stem>.refine.json: x and y within irisBudget of
// the IOD, and z (MediaPipe's normalised z × image width) too.
func TestIrisMatchesMediaPipe(t *testing.T) {
	e := setup(t)
	var table strings.Builder
	fmt.Fprintf(&table, "%-34s %4s %8s %9s %9s %9s %9s\n", "photo", "face", "IOD px", "iris0 %", "iris1 %", "ring %", "z %")
	failed := false
	var centres []float64
	for _, c := range oracleCases(t, e, ".refine.json") {
		stem, want, faces := c.stem, c.want, c.faces
		require.Len(t, faces, len(want.Faces), stem)
		for i, wf := range want.Faces {
			o, got := wf.Landmarks, faces[i].Landmarks
			require.Len(t, o, NumLandmarks)
			require.Len(t, got, NumLandmarks)
			iod := math.Hypot(o[33][0]-o[263][0], o[33][1]-o[263][1])
			var errs [2]float64
			var ring, zErr float64
			for eye := range 2 {
				c := NumMeshLandmarks + eye*NumIrisLandmarks
				errs[eye] = math.Hypot(float64(got[c][0])-o[c][0], float64(got[c][1])-o[c][1]) / iod
				zErr = max(zErr, math.Abs(float64(got[c][2])-o[c][2]*float64(want.Width))/iod)
				for k := 1; k < NumIrisLandmarks; k++ {
					ring += math.Hypot(float64(got[c+k][0])-o[c+k][0], float64(got[c+k][1])-o[c+k][1]) / iod / 8
				}
			}
			mark := ""
			centres = append(centres, errs[0], errs[1])
			if max(errs[0], errs[1], zErr) > irisBudget {
				mark, failed = "  ✗", true
			}
			fmt.Fprintf(&table, "%-34s %4d %8.1f %9.3f %9.3f %9.3f %9.3f%s\n", stem, i, iod, 100*errs[0], 100*errs[1], 100*ring, 100*zErr, mark)
		}
	}
	require.Len(t, centres, 2*13, "the 13 faces of the oracle photos")
	slices.Sort(centres)
	t.Logf("iris vs MediaPipe's refined mesh (median centre %.3f %%, worst %.3f %% IOD):\n%s",
		100*centres[len(centres)/2], 100*centres[len(centres)-1], table.String())
	if failed {
		t.Fatalf("iris centres beyond %.0f %% of the IOD:\n%s", 100*irisBudget, table.String())
	}
}
