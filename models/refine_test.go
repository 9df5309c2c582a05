package models_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
)

// The refinement layout read from MediaPipe's graph config: the mesh maps
// onto itself, lips and eyes onto mesh points, the irises onto 468–477, and
// each iris's z comes from 16 points of its eye's contour.
func TestAttentionRefinement(t *testing.T) {
	r := models.AttentionRefinement()
	sizes := []int{468, 80, 71, 71, 5, 5}
	for k, idx := range r.Indexes {
		require.Len(t, idx, sizes[k], "output %d", k)
	}
	for i, v := range r.Indexes[0] {
		require.Equal(t, i, v)
	}
	for k := 1; k <= 3; k++ {
		for _, v := range r.Indexes[k] {
			require.Less(t, v, 468, "output %d", k)
		}
	}
	require.Equal(t, []int{468, 469, 470, 471, 472}, r.Indexes[4])
	require.Equal(t, []int{473, 474, 475, 476, 477}, r.Indexes[5])
	for eye, z := range r.IrisZFrom {
		require.Len(t, z, 16)
		// The contour points are among that eye's refined points.
		for _, v := range z {
			require.True(t, slices.Contains(r.Indexes[2+eye], v), "eye %d point %d", eye, v)
		}
	}
	require.Contains(t, r.IrisZFrom[0], 33)
	require.Contains(t, r.IrisZFrom[1], 263)
	_, err := models.ParseRefinement("indexes_mapping: [1, 2]")
	require.Error(t, err)
}
