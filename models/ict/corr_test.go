package ict_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/ict"
)

// TestCorrespondenceRederives reruns models/cmd/ictcorr's derivation from the
// two embedded canonical meshes: the bytes must equal the committed file.
func TestCorrespondenceRederives(t *testing.T) {
	m := ict.Load()
	c, err := ict.DeriveCorrespondence(m, models.Canonical(), ict.CorrespondenceIterations)
	require.NoError(t, err)
	b, err := c.Encode()
	require.NoError(t, err)
	require.True(t, bytes.Equal(b, ict.CorrespondenceJSON()), "models/ict/mediapipe_correspondence.json is stale: go run ./models/cmd/ictcorr")
	t.Logf("residual mean %.3f cm, max %.3f cm", c.ResidualCM[0], c.ResidualCM[1])
	require.Less(t, c.ResidualCM[0], 0.15)
	require.Less(t, c.ResidualCM[1], 0.5)
}

// TestCorrespondenceGeometry checks the embedded correspondence against what
// is known about both meshes without using it to derive itself.
func TestCorrespondenceGeometry(t *testing.T) {
	m := ict.Load()
	mp := models.Canonical()
	c := ict.MediaPipe()
	face := map[int32]bool{}
	for _, ti := range m.FaceTriangles() {
		for _, v := range m.Tris[ti].V {
			face[v] = true
		}
	}
	for i, p := range c.Points {
		for k := range 3 {
			require.True(t, face[p.V[k]], "point %d leaves the face material", i)
			require.GreaterOrEqual(t, p.W[k], float32(0))
		}
	}
	// Mirror symmetry: ICT's neutral is symmetric about x = 0, so MediaPipe
	// mirror pairs must land on mirrored ICT points.
	var worst float64
	for i, j := range mp.Mirror {
		a, b := c.Points[i].At(m.Neutral), c.Points[j].At(m.Neutral)
		worst = math.Max(worst, math.Hypot(math.Hypot(a[0]+b[0], a[1]-b[1]), a[2]-b[2]))
	}
	t.Logf("worst mirror asymmetry %.3f cm", worst)
	require.Less(t, worst, 0.3)
	// The anchors stay near their iBUG vertices, and the derived iBUG-68 list
	// agrees with them to a neighbour.
	for _, a := range ict.Anchors {
		p := c.Points[a[0]].At(m.Neutral)
		v := m.Neutral[m.Landmarks68[a[1]]]
		d := math.Sqrt(math.Pow(p[0]-float64(v[0]), 2) + math.Pow(p[1]-float64(v[1]), 2) + math.Pow(p[2]-float64(v[2]), 2))
		require.Less(t, d, 0.8, "anchor %v", a)
	}
	require.Len(t, c.IBUG68, 68)
	require.Equal(t, 33, c.IBUG68[36])
	require.Equal(t, 263, c.IBUG68[45])
	require.Equal(t, 61, c.IBUG68[48])
	require.Equal(t, 291, c.IBUG68[54])
	// Upper and lower lip midpoints (13, 14) and eyelids (159, 145) land on
	// different ICT points: the mouth and eyes can open.
	for _, pair := range [][2]int{{13, 14}, {159, 145}, {386, 374}} {
		a, b := c.Points[pair[0]].At(m.Neutral), c.Points[pair[1]].At(m.Neutral)
		require.Greater(t, a[1], b[1], "%v: upper point above lower", pair)
	}
}
