package ict_test

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models/ict"
)

// sourceDir is the ICT-FaceKit distribution the pack is derived from; tests
// that re-derive skip when it is absent (a clean clone has only the pack).
func sourceDir(t *testing.T) string {
	dir := os.Getenv("FACEFLEET_ICT_SOURCE")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "models", "ict-facekit")
	}
	if _, err := os.Stat(filepath.Join(dir, "generic_neutral_mesh.obj")); err != nil {
		t.Skipf("ICT-FaceKit sources not at %s (set FACEFLEET_ICT_SOURCE): %v", dir, err)
	}
	return dir
}

func TestEmbeddedPack(t *testing.T) {
	m := ict.Load()
	require.Len(t, m.Neutral, 26719)
	require.Len(t, m.UV, 28911)
	require.Len(t, m.Materials, 12)
	require.Equal(t, "M_Face", m.Materials[0])
	require.Len(t, m.Identity, ict.NumIdentity)
	require.Len(t, m.Expressions, 53)
	require.Len(t, m.Landmarks68, 68)
	require.Len(t, m.RigidLandmarks, 9)
	require.Equal(t, 26, m.Expression("jawOpen"))
	require.Equal(t, -1, m.Expression("_neutral"))
	// Identity modes move the whole head; expressions are local.
	for _, s := range m.Identity {
		require.Greater(t, len(s.Index), 20000, s.Name)
	}
	jaw := m.Expressions[m.Expression("jawOpen")]
	blink := m.Expressions[m.Expression("eyeBlink_L")]
	require.Less(t, len(blink.Index), len(jaw.Index))
	require.Less(t, len(blink.Index), 5000)
	t.Logf("pack %d bytes; jawOpen moves %d vertices, eyeBlink_L %d", len(ict.Pack()), len(jaw.Index), len(blink.Index))
}

func TestDecodeRejectsCorruptPack(t *testing.T) {
	p := ict.Pack()
	for _, b := range [][]byte{nil, []byte("nonsense"), p[:len(p)/2]} {
		_, err := ict.Decode(b)
		require.ErrorIs(t, err, ict.ErrMalformed)
	}
}

// TestPackRederives rebuilds the pack from the ICT-FaceKit sources: the bytes
// must equal the committed pack (rerun models/cmd/ictpack when this fails),
// and every quantised offset must be within half a quantum of the source.
func TestPackRederives(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 117 MB of OBJ files")
	}
	dir := sourceDir(t)
	start := time.Now()
	src, err := ict.ReadSource(dir)
	require.NoError(t, err)
	b, err := ict.Encode(src)
	require.NoError(t, err)
	t.Logf("re-derived in %v: %d bytes", time.Since(start), len(b))
	require.True(t, bytes.Equal(b, ict.Pack()), "models/ict/ict.pack is stale: go run ./models/cmd/ictpack")

	m := ict.Load()
	require.Equal(t, src.Neutral, m.Neutral)
	require.Equal(t, src.Tris, m.Tris)
	check := func(s ict.Shape, pos [][3]float32) float64 {
		full := make([][3]float32, len(pos))
		for k, i := range s.Index {
			full[i] = s.Delta[k]
		}
		var worst float64
		for i, p := range pos {
			for k := range 3 {
				worst = math.Max(worst, math.Abs(float64(p[k]-src.Neutral[i][k]-full[i][k])))
			}
		}
		return worst
	}
	var worst float64
	for i, s := range m.Identity {
		worst = math.Max(worst, check(s, src.Identity[i]))
	}
	for i, s := range m.Expressions {
		require.Equal(t, src.ExprNames[i], s.Name)
		worst = math.Max(worst, check(s, src.Expr[i]))
	}
	t.Logf("worst quantisation error %.5f cm", worst)
	require.Less(t, worst, 1.0/1024) // half a quantum plus float32 rounding
}
