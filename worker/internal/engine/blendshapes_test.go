package engine

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mirrorName swaps Left and Right in an ARKit name.
func mirrorName(n string) string {
	switch {
	case strings.HasSuffix(n, "Left"):
		return strings.TrimSuffix(n, "Left") + "Right"
	case strings.HasSuffix(n, "Right"):
		return strings.TrimSuffix(n, "Right") + "Left"
	case n == "jawLeft":
		return "jawRight"
	case n == "jawRight":
		return "jawLeft"
	case n == "mouthLeft":
		return "mouthRight"
	case n == "mouthRight":
		return "mouthLeft"
	}
	return n
}

// mirrorBlendTol bounds |score − mirrored partner|. It is a wiring check
// (index order, Left/Right, iris layout), not an accuracy bound: the eye
// scores swing with a few pixels of eyelid, and FaceMesh's landmarks mirror
// only to ~0.3 % of the face width; measured worst 0.28 (eyeSquint on
// kj_test2). Not yet compared with MediaPipe's own Face Landmarker scores.
const mirrorBlendTol = 0.35

// TestBlendshapesMirror: every face gets 52 scores in [0, 1]; on the
// mirrored photo each Left score becomes the Right one (and vice versa)
// and the symmetric ones stay.
func TestBlendshapesMirror(t *testing.T) {
	t.Parallel()
	e := setup(t)
	index := map[string]int{}
	for i, n := range BlendshapeNames {
		index[n] = i
	}
	for _, photo := range []string{"kj_test2.jpg", "pexels-dinielle-de-veyra-4195444.jpg"} {
		img := loadPhoto(t, photo)
		a := detectAndLandmark(t, e, img)
		b := detectAndLandmark(t, e, flipX(img))
		require.Len(t, a, 1)
		require.Len(t, b, 1)
		var worst float64
		for i, n := range BlendshapeNames {
			s := a[0].Blendshapes[i]
			require.True(t, s >= 0 && s <= 1, "%s %s = %v", photo, n, s)
			m := b[0].Blendshapes[index[mirrorName(n)]]
			worst = max(worst, math.Abs(float64(s-m)))
			if math.Abs(float64(s-m)) > 0.05 {
				t.Logf("%s: %s %.3f vs mirrored %s %.3f", photo, n, s, mirrorName(n), m)
			}
			require.InDelta(t, s, m, mirrorBlendTol, "%s: %s vs mirrored %s", photo, n, mirrorName(n))
		}
		t.Logf("%s: worst |score − mirrored partner| %.4f", photo, worst)
	}
}
