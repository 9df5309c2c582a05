package texture

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
)

// BenchmarkSeamPasses times the passes the seam blend and the gutter add
// to a 1024² unwrap, on one goroutine, each on its own: the feather's
// distance grid, the feather pass and the gutter. (Each reruns on the same
// texture: the work per run stays the same.)
func BenchmarkSeamPasses(b *testing.B) {
	m := models.Canonical()
	lay, err := layoutFor(m, 1024)
	require.NoError(b, err)
	for _, name := range []string{Frontal, Turned} {
		img, lm := Fixture(b, name)
		out, st, err := unwrap(img, lm, m, Options{Size: 1024}, 1)
		require.NoError(b, err)
		f := newFrame(img, lm, lay, defaultSeam())
		f.shade(out, lay.spans)
		var holes []uint16
		if st.Coverage < 1 {
			holes = f.holes
		}
		b.Run(fmt.Sprintf("%s/feather-grid", name), func(b *testing.B) {
			for b.Loop() {
				f.featherGrid()
			}
		})
		b.Run(fmt.Sprintf("%s/feather", name), func(b *testing.B) {
			if !f.featherGrid() {
				b.Skip("no mirror fill")
			}
			for b.Loop() {
				f.feather(out, lay.spans)
			}
		})
		b.Run(fmt.Sprintf("%s/gutter", name), func(b *testing.B) {
			for b.Loop() {
				gutter(out, lay, holes)
			}
		})
	}
}
