package geometry

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

type realFace struct {
	Source    string       `json:"source"`
	Width     int          `json:"width"`
	Height    int          `json:"height"`
	Landmarks [][3]float32 `json:"landmarks"`
}

func loadRealFace(t *testing.T, name string) realFace {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "landmarks", name))
	require.NoError(t, err)
	var f realFace
	require.NoError(t, json.Unmarshal(b, &f))
	require.Len(t, f.Landmarks, 468)
	return f
}

// TestRealLandmarks runs the whole branch on landmarks the engine produced
// from real photos; the expected directions come from looking at the photos
// (testdata/landmarks/README.md).
func TestRealLandmarks(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	cases := []struct {
		file  string
		check func(t *testing.T, p Pose)
	}{
		{"pexels-tim-douglas-6567248.face0.json", func(t *testing.T, p Pose) {
			require.Greater(t, p.Yaw, 15.0, "turned towards the image's right")
			require.Greater(t, p.Roll, 3.0, "tilted clockwise")
		}},
		{"bf_Test1.face0.json", func(t *testing.T, p Pose) {
			require.Less(t, p.Yaw, -15.0, "turned towards the image's left")
		}},
		{"ddfa_jianzhuguo.face0.json", func(t *testing.T, p Pose) {
			require.InDelta(t, 0, p.Yaw, 10, "near frontal")
			require.InDelta(t, 0, p.Roll, 10, "near upright")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			f := loadRealFace(t, tc.file)
			p, err := FitPose(f.Landmarks, f.Width, f.Height, mesh)
			require.NoError(t, err)
			t.Logf("pitch %.1f yaw %.1f roll %.1f scale %.2f px/cm", p.Pitch, p.Yaw, p.Roll, p.Scale)
			requireRotation(t, p.Rotation)
			tc.check(t, p)

			// The metric face stays close to the canonical face (same person
			// class, same units): RMS distance well under 1.5 cm.
			m := MetricMesh(f.Landmarks, f.Width, f.Height, p, mesh)
			require.NotNil(t, m)
			var se float64
			for i, v := range mesh.Vertices {
				for k := range 3 {
					d := float64(m.Positions[i][k] - v[k])
					se += d * d
				}
			}
			rms := math.Sqrt(se / float64(len(mesh.Vertices)))
			t.Logf("metric mesh RMS vs canonical: %.2f cm", rms)
			require.Less(t, rms, 1.5)

			var obj, glb bytes.Buffer
			require.NoError(t, WriteOBJ(&obj, m, "mesh.mtl"))
			require.NoError(t, WriteGLB(&glb, m, nil))

			// The nose tip is among the nearest visible points.
			d := RenderDepth(f.Landmarks, f.Width, f.Height, mesh.Triangles)
			nose := at(f.Landmarks, vNoseTip)
			require.Greater(t, d.Gray16At(nose.X, nose.Y).Y, uint16(50000))
		})
	}
}
