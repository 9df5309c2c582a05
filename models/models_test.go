package models_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/facemesh"
)

func TestCanonicalMatchesSource(t *testing.T) {
	t.Parallel()
	f, err := os.Open("geometry_pipeline_metadata_landmarks.pbtxt")
	require.NoError(t, err)
	defer f.Close()
	parsed, err := facemesh.ParsePBTXT(f)
	require.NoError(t, err)
	emb := models.Canonical()
	require.Equal(t, parsed, emb, "canonical_face_mesh.json is stale: run make models")
	require.Len(t, emb.Vertices, facemesh.NumVertices)
	require.Len(t, emb.Triangles, facemesh.NumTriangles)
	var nonzero int
	for _, w := range emb.Weights {
		if w > 0 {
			nonzero++
		}
	}
	require.Equal(t, 33, nonzero)
}

func TestMirrorPairs(t *testing.T) {
	t.Parallel()
	m := models.Canonical()
	// 1 (nose tip) is on the midline; 33 and 263 are the outer eye corners.
	require.Equal(t, 1, m.Mirror[1])
	require.Equal(t, 263, m.Mirror[33])
	require.Equal(t, 33, m.Mirror[263])
	for i, j := range m.Mirror {
		require.InDelta(t, -m.Vertices[i][0], m.Vertices[j][0], 0.05, "vertex %d", i)
		require.InDelta(t, m.Vertices[i][1], m.Vertices[j][1], 0.05, "vertex %d", i)
	}
}

func TestONNXPresent(t *testing.T) {
	t.Parallel()
	for _, m := range []models.Model{models.DetectorShort, models.DetectorFull, models.Landmark} {
		b, err := models.ONNX(m, models.FP32)
		require.NoError(t, err)
		require.Greater(t, len(b), 100_000)
	}
	require.Regexp(t, `^mediapipe-facemesh-468@[0-9a-f]{12}$`, models.PackID())
}
