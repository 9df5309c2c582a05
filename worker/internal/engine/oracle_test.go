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

// oracleResult is one testdata/oracle/<stem>.json: MediaPipe's own Face Mesh
// JS solution on the photo (see testdata/oracle/README.md).
type oracleResult struct {
	Width, Height int
	Faces         []struct {
		Landmarks [][3]float64 `json:"landmarks"`
	} `json:"faces"`
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
	refs, err := filepath.Glob(filepath.Join("testdata", "oracle", "*.json"))
	require.NoError(t, err)
	refs = slices.DeleteFunc(refs, func(p string) bool { return strings.HasSuffix(p, ".refine.json") })
	require.GreaterOrEqual(t, len(refs), 9, "oracle references missing")
	var rows []parityRow
	for _, ref := range refs {
		stem := strings.TrimSuffix(filepath.Base(ref), ".json")
		b, err := os.ReadFile(ref)
		require.NoError(t, err)
		var want oracleResult
		require.NoError(t, json.Unmarshal(b, &want))
		data, err := os.ReadFile(filepath.Join("testdata", stem+".jpg"))
		require.NoError(t, err)
		img, err := imagedecode.Decode(data, imagedecode.DefaultLimits())
		require.NoError(t, err)
		require.Equal(t, [2]int{want.Width, want.Height}, [2]int{img.Rect.Dx(), img.Rect.Dy()}, stem)
		dets, err := e.Detect(context.Background(), img.NRGBA, DetectOptions{Detector: DetectorShort})
		require.NoError(t, err)
		faces, err := e.Landmarks(context.Background(), img.NRGBA, dets)
		require.NoError(t, err)
		// Faces left to right by mean landmark x, as the oracle sorts them.
		slices.SortFunc(faces, func(a, b Face) int {
			return int(math.Copysign(1, meanX(a.Landmarks)-meanX(b.Landmarks)))
		})
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
				for k := range NumLandmarks {
					dx, dy := float64(got[k][0])-o[k][0], float64(got[k][1])-o[k][1]
					d := math.Hypot(dx, dy)
					sum += d
					row.dx += dx / NumLandmarks
					row.dy += dy / NumLandmarks
					row.maxPx = max(row.maxPx, d)
				}
				row.err = sum / NumLandmarks / row.iod
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
