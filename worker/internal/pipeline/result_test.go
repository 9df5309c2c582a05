package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTimingsStages(t *testing.T) {
	t.Parallel()
	tm := Timings{Decode: 1, Detect: 2, Landmarks: 3, Texture: 4, Encode: 5, Total: 99}
	require.Equal(t, map[string]float64{StageDecode: 1, StageDetect: 2, StageLandmarks: 3, StageTexture: 4, StageEncode: 5}, tm.Stages(),
		"stages that did not run are absent, and the total is not a stage")
	g, h := 6.0, 7.0
	tm.Geometry, tm.Head = &g, &h
	require.Equal(t, map[string]float64{StageDecode: 1, StageDetect: 2, StageLandmarks: 3, StageTexture: 4, StageGeometry: 6, StageHead: 7, StageEncode: 5}, tm.Stages())
}
