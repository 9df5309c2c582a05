package head

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// oracleFace is one face of MediaPipe's own landmarks for a test photo
// (worker/internal/engine/testdata/oracle: the engine matches them to 0.2 %
// of the IOD), with z converted to pixels (MediaPipe's z is normalised by
// the image width; the engine's is on x's scale).
type oracleFace struct {
	Stem      string
	Image     string
	W, H      int
	Landmarks [][3]float32
}

const oracleDir = "../engine/testdata/oracle"

func loadOracle(t testing.TB) []oracleFace {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(oracleDir, "*.refine.json"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	sort.Strings(paths)
	var out []oracleFace
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		var doc struct {
			Width, Height int
			Faces         []struct{ Landmarks [][3]float32 }
		}
		require.NoError(t, json.Unmarshal(b, &doc))
		stem := strings.TrimSuffix(filepath.Base(p), ".refine.json")
		for i, f := range doc.Faces {
			for k := range f.Landmarks {
				f.Landmarks[k][2] *= float32(doc.Width)
			}
			name := stem
			if len(doc.Faces) > 1 {
				name = stem + "#" + string(rune('0'+i))
			}
			out = append(out, oracleFace{Stem: name, Image: filepath.Join("..", "engine", "testdata", stem+".jpg"), W: doc.Width, H: doc.Height, Landmarks: f.Landmarks})
		}
	}
	return out
}
