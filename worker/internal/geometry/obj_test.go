package geometry

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// parsedOBJ is what parseOBJ reads back.
type parsedOBJ struct {
	mtllib, usemtl string
	v, vn          [][3]float64
	vt             [][2]float64
	f              [][3][3]int // 1-based v/vt/vn per corner
}

// parseOBJ is a small, strict reader for the subset WriteOBJ emits.
func parseOBJ(t *testing.T, data []byte) parsedOBJ {
	t.Helper()
	var o parsedOBJ
	sc := bufio.NewScanner(bytes.NewReader(data))
	floats := func(fs []string, n int) []float64 {
		require.Len(t, fs, n)
		out := make([]float64, n)
		for i, s := range fs {
			v, err := strconv.ParseFloat(s, 64)
			require.NoError(t, err)
			out[i] = v
		}
		return out
	}
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		switch fs[0] {
		case "mtllib":
			o.mtllib = fs[1]
		case "usemtl":
			o.usemtl = fs[1]
		case "o", "s":
		case "v":
			x := floats(fs[1:], 3)
			o.v = append(o.v, [3]float64{x[0], x[1], x[2]})
		case "vn":
			x := floats(fs[1:], 3)
			o.vn = append(o.vn, [3]float64{x[0], x[1], x[2]})
		case "vt":
			x := floats(fs[1:], 2)
			o.vt = append(o.vt, [2]float64{x[0], x[1]})
		case "f":
			require.Len(t, fs, 4, "triangles only: %q", line)
			var face [3][3]int
			for c, corner := range fs[1:] {
				parts := strings.Split(corner, "/")
				require.Len(t, parts, 3, "v/vt/vn: %q", corner)
				for k, p := range parts {
					n, err := strconv.Atoi(p)
					require.NoError(t, err)
					face[c][k] = n
				}
			}
			o.f = append(o.f, face)
		default:
			t.Fatalf("unexpected OBJ statement %q", line)
		}
	}
	require.NoError(t, sc.Err())
	return o
}

func testMesh(t testing.TB) *Mesh {
	t.Helper()
	mesh := canonical(t)
	s := synthFace{yaw: 20, pitch: -5, scale: 20, w: 512, h: 512}
	lm := s.landmarks(mesh)
	p, err := FitPose(lm, s.w, s.h, mesh)
	require.NoError(t, err)
	return MetricMesh(lm, s.w, s.h, p, mesh)
}

func TestWriteOBJRoundTrip(t *testing.T) {
	t.Parallel()
	m := testMesh(t)
	var buf bytes.Buffer
	require.NoError(t, WriteOBJ(&buf, m, "mesh.mtl"))
	o := parseOBJ(t, buf.Bytes())
	require.Equal(t, "mesh.mtl", o.mtllib)
	require.Equal(t, MaterialName, o.usemtl)
	require.Len(t, o.v, len(m.Positions))
	require.Len(t, o.vt, len(m.UV))
	require.Len(t, o.vn, len(m.Normals))
	require.Len(t, o.f, len(m.Triangles))
	for i, f := range o.f {
		for c, corner := range f {
			for _, idx := range corner {
				require.GreaterOrEqual(t, idx, 1)
				require.LessOrEqual(t, idx, len(m.Positions))
			}
			require.Equal(t, int(m.Triangles[i][c])+1, corner[0])
		}
	}
	for i := range m.Positions {
		for k := range 3 {
			require.InDelta(t, m.Positions[i][k], o.v[i][k], 1e-6)
			require.InDelta(t, m.Normals[i][k], o.vn[i][k], 1e-6)
		}
		require.InDelta(t, m.UV[i][0], o.vt[i][0], 1e-6)
		require.InDelta(t, 1-m.UV[i][1], o.vt[i][1], 1e-6, "OBJ v is flipped")
	}
	// Forehead (vertex 10) is near the top of the texture (MediaPipe v≈0.11),
	// so OBJ's bottom-left v must be near 1.
	require.Greater(t, o.vt[10][1], 0.85)
}

func TestWriteMTL(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, WriteMTL(&buf, "uv_texture.png"))
	s := buf.String()
	require.Contains(t, s, "newmtl "+MaterialName+"\n")
	require.Contains(t, s, "map_Kd uv_texture.png\n")
	require.ErrorIs(t, WriteMTL(&buf, ""), ErrInvalidInput)
	require.ErrorIs(t, WriteMTL(&buf, "a\nb"), ErrInvalidInput)
}

func TestWriteOBJRejectsBadMesh(t *testing.T) {
	t.Parallel()
	m := testMesh(t)
	bad := *m
	bad.Triangles = append([][3]uint16{{0, 1, 9999}}, m.Triangles...)
	require.ErrorIs(t, WriteOBJ(&bytes.Buffer{}, &bad, "m.mtl"), ErrInvalidInput)
	bad = *m
	bad.Normals = bad.Normals[:10]
	require.ErrorIs(t, WriteOBJ(&bytes.Buffer{}, &bad, "m.mtl"), ErrInvalidInput)
	require.ErrorIs(t, WriteOBJ(&bytes.Buffer{}, nil, "m.mtl"), ErrInvalidInput)
	require.ErrorIs(t, WriteOBJ(&bytes.Buffer{}, m, "x\ny"), ErrInvalidInput)
}
