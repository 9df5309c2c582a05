package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/shared/testkit"
)

// TestFP16MatchesFP32 runs the FP16 pack (models/cmd/onnxfp16 output, with a
// dynamic batch dimension) and compares it with FP32: same faces, landmarks
// within a measured tolerance, and all faces of a group photo in one batch.
func TestFP16MatchesFP32(t *testing.T) {
	t.Parallel()
	ref := setup(t)
	if _, err := models.ONNX(models.Landmark, models.FP16); err != nil {
		t.Skipf("FP16 pack absent (make models): %v", err)
	}
	e, err := New(Config{LibraryPath: testLibrary(), Precision: models.FP16, IntraOpThreads: 1, Logger: testkit.Logger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	require.Equal(t, models.FP16, e.Precision())
	t.Logf("FP16 landmark model batches faces: %v", e.BatchesLandmarks())

	img := loadPhoto(t, "bf_Test3.jpg")
	want := detectAndLandmark(t, ref, img)
	got := detectAndLandmark(t, e, img)
	require.Len(t, got, len(want))
	for _, fw := range want {
		fg := nearest(got, fw.Box[0]+fw.Box[2]/2, fw.Box[1]+fw.Box[3]/2)
		mean, worst := faceErr(fw, fg.Landmarks)
		t.Logf("fp16 vs fp32: score %.3f/%.3f, landmarks mean %.4f max %.4f of face width", fg.Score, fw.Score, mean, worst)
		require.InDelta(t, fw.Score, fg.Score, 0.05)
		// Measured on CPU: mean 0.0001, max 0.0003 (the converter keeps
		// CPU-slow ops in FP32); the bounds leave room for more FP16.
		require.Less(t, mean, float32(0.005))
		require.Less(t, worst, float32(0.015))
	}
	if !e.BatchesLandmarks() {
		return
	}
	// The three faces went through one batch-3 Run of FaceMesh and of the
	// attention model; one face at a time gives the same landmarks (irises
	// included).
	e.mu.Lock()
	_, batched := e.landmark.sets[3]
	e.mu.Unlock()
	require.True(t, batched, "no batch-3 tensors: faces were not batched")
	e.mu.Lock()
	_, batched = e.attention.sets[3]
	e.mu.Unlock()
	require.True(t, batched, "no batch-3 attention tensors: the irises were not batched")
	for _, f := range got {
		one, err := e.Landmarks(testkit.Context(t, time.Minute), img, []Detection{f.Detection})
		require.NoError(t, err)
		require.Len(t, one, 1)
		_, worst := faceErr(f, one[0].Landmarks)
		require.Less(t, worst, float32(1e-3))
	}
}
