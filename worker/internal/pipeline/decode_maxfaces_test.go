package pipeline

import (
	"context"
	"image"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// outsiderModel is markerModel plus, when it is shown a region in its
// frame, a face outside the region (one the frame's background shows)
// that scores higher than the square, as a face elsewhere in the picture
// whose score moved between the pre-pass and the detect stage would. Like
// the engine it returns at most MaxFaces detections, best first.
type outsiderModel struct{ markerModel }

func (m *outsiderModel) Detect(ctx context.Context, img *image.NRGBA, o engine.DetectOptions) ([]engine.Detection, error) {
	dets, err := m.markerModel.Detect(ctx, img, o)
	if err != nil || o.Frame.Empty() {
		return dets, err
	}
	f := o.Frame
	out := engine.Detection{Box: [4]float32{float32(f.Min.X) + 10, float32(f.Min.Y) + 10, 300, 300}, Score: 0.95}
	dets = append([]engine.Detection{out}, dets...)
	if o.MaxFaces > 0 && len(dets) > o.MaxFaces {
		dets = dets[:o.MaxFaces]
	}
	return dets, nil
}

// A face the region's frame shows outside the region does not take the
// place of the region's own under max_faces: with max_faces 1 the square
// is still the one face, as a whole decode finds it.
func TestReducedDecodeMaxFacesCountsTheRegionsFaces(t *testing.T) {
	if imagedecode.JPEGDecoder != "libjpeg-turbo" {
		t.Skip("the reduced decode needs libjpeg-turbo's DCT scaling (image/jpeg decodes whole)")
	}
	t.Parallel()
	sq := image.Rect(2900, 1900, 3300, 2300)
	data := markerJPEG(t, 4032, 3024, sq, 1)
	p := New(&outsiderModel{}, imagedecode.DefaultLimits(), nil)
	pl, err := p.plan(t.Context(), data, Options{MaxFaces: 1}.WithDefaults())
	require.NoError(t, err)
	require.False(t, pl.req.Region.Empty(), "a region decode")
	pl.pre.Release()
	out, err := p.Run(t.Context(), data, Options{MaxFaces: 1}, nil)
	require.NoError(t, err)
	defer out.Release()
	require.Len(t, out.Result.Faces, 1)
	require.InDelta(t, float32(sq.Min.X), out.Result.Faces[0].BBox[0], 2)
	require.InDelta(t, float32(sq.Min.Y), out.Result.Faces[0].BBox[1], 2)
}
