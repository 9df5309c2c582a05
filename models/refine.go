package models

import (
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"sync"
)

// refineGraph is MediaPipe's tensors_to_face_landmarks_with_attention graph
// config (Apache-2.0): which of the 478 refined landmarks each output of
// LandmarkAttention overwrites.
//
//go:embed reference/tensors_to_face_landmarks_with_attention.pbtxt
var refineGraph string

// Refinement is how MediaPipe assembles its 478 refined landmarks from
// LandmarkAttention's outputs (LandmarksRefinementCalculator): output k's
// point i becomes landmark Indexes[k][i], in the order mesh, lips, left eye,
// right eye, left iris, right iris; the mesh sets z of its points, lips and
// eyes keep the mesh's z, and each iris's z is the mean z of the landmarks
// IrisZFrom[eye] (its eye contour).
type Refinement struct {
	Indexes   [6][]int
	IrisZFrom [2][]int
}

var (
	mappingRe  = regexp.MustCompile(`(?s)indexes_mapping: \[(.*?)\]`)
	averageRe  = regexp.MustCompile(`(?s)indexes_for_average: \[(.*?)\]`)
	commentRe  = regexp.MustCompile(`#[^\n]*`)
	integersRe = regexp.MustCompile(`\d+`)
)

func integers(s string) []int {
	var out []int
	for _, m := range integersRe.FindAllString(commentRe.ReplaceAllString(s, ""), -1) {
		v, _ := strconv.Atoi(m)
		out = append(out, v)
	}
	return out
}

// ParseRefinement reads a Refinement from the graph config text.
func ParseRefinement(pbtxt string) (Refinement, error) {
	var r Refinement
	maps := mappingRe.FindAllStringSubmatch(pbtxt, -1)
	avgs := averageRe.FindAllStringSubmatch(pbtxt, -1)
	if len(maps) != len(r.Indexes) || len(avgs) != len(r.IrisZFrom) {
		return r, fmt.Errorf("models: refinement graph has %d mappings and %d averages (want 6 and 2)", len(maps), len(avgs))
	}
	for k, m := range maps {
		r.Indexes[k] = integers(m[1])
	}
	for k, m := range avgs {
		r.IrisZFrom[k] = integers(m[1])
	}
	return r, nil
}

var refinement = sync.OnceValues(func() (Refinement, error) { return ParseRefinement(refineGraph) })

// AttentionRefinement is MediaPipe's refinement of LandmarkAttention's
// outputs into 478 landmarks. It panics only if the embedded graph config is
// corrupt, which the package tests rule out.
func AttentionRefinement() Refinement {
	r, err := refinement()
	if err != nil {
		panic(err)
	}
	return r
}
