package geometry

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanonicalWindingFacesViewer(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	n := vertexNormals(mesh.Vertices, mesh.Triangles, [3]float32{})
	var front int
	for _, v := range n {
		if v[2] > 0 {
			front++
		}
	}
	// The canonical triangles are counter-clockwise seen from the front, so
	// most vertex normals point towards the viewer (+z) and the nose tip
	// straight at it.
	require.Greater(t, front, len(n)*3/4)
	require.Greater(t, n[1][2], float32(0.9), "nose tip normal %v", n[1])
}

func TestMetricMeshRecoversCanonical(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	for _, s := range []synthFace{
		frontal(),
		{pitch: 15, yaw: -35, roll: 10, scale: 9, t: [3]float64{4, -3, 12}, w: 800, h: 600},
	} {
		lm := s.landmarks(mesh)
		p, err := FitPose(lm, s.w, s.h, mesh)
		require.NoError(t, err)
		m := MetricMesh(lm, s.w, s.h, p, mesh)
		require.NotNil(t, m)
		require.Len(t, m.Positions, len(mesh.Vertices))
		require.Len(t, m.Normals, len(mesh.Vertices))
		require.Equal(t, mesh.UV, m.UV)
		require.Equal(t, mesh.Triangles, m.Triangles)
		for i, v := range mesh.Vertices {
			for k := range 3 {
				require.InDelta(t, v[k], m.Positions[i][k], 1e-3, "vertex %d axis %d", i, k)
			}
			nrm := m.Normals[i]
			l := math.Sqrt(float64(nrm[0]*nrm[0] + nrm[1]*nrm[1] + nrm[2]*nrm[2]))
			require.InDelta(t, 1, l, 1e-5)
		}
		require.Greater(t, m.Normals[1][2], float32(0.9))
	}
}

func TestMetricMeshKeepsObservedShape(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	s := frontal()
	lm := s.landmarks(mesh)
	p, err := FitPose(lm, s.w, s.h, mesh)
	require.NoError(t, err)
	// A wider face: move one cheek point outwards by 1 cm (20 px) after the fit.
	lm[234][0] -= 20
	m := MetricMesh(lm, s.w, s.h, p, mesh)
	require.InDelta(t, mesh.Vertices[234][0]-1, m.Positions[234][0], 1e-3)
}

func TestMetricMeshRejectsBadInput(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	lm := frontal().landmarks(mesh)
	p, err := FitPose(lm, 512, 512, mesh)
	require.NoError(t, err)
	require.Nil(t, MetricMesh(lm[:100], 512, 512, p, mesh))
	require.Nil(t, MetricMesh(lm, 512, 512, Pose{}, mesh))
	require.Nil(t, MetricMesh(lm, 512, 512, p, nil))
}
