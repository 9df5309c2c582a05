package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/image/draw"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// markerModel "detects" the red square in whatever image it is given (the
// bounding box of its strongly red pixels) and lays the canonical mesh into
// that box, so a reduced decode's results can be checked against where the
// square really is in the whole picture, without ONNX Runtime.
type markerModel struct {
	mu    sync.Mutex
	sizes []image.Point          // of the images Detect saw
	opts  []engine.DetectOptions // and its options
}

var _ Model = (*markerModel)(nil)

func (m *markerModel) Detect(_ context.Context, img *image.NRGBA, o engine.DetectOptions) ([]engine.Detection, error) {
	m.mu.Lock()
	m.sizes = append(m.sizes, img.Rect.Size())
	m.opts = append(m.opts, o)
	m.mu.Unlock()
	x0, y0, x1, y1 := math.MaxInt, math.MaxInt, -1, -1
	for y := range img.Rect.Dy() {
		for x := range img.Rect.Dx() {
			if c := img.NRGBAAt(x, y); c.R > 180 && c.G < 90 && c.B < 90 {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x+1), max(y1, y+1)
			}
		}
	}
	if x1 < 0 {
		return nil, nil
	}
	return []engine.Detection{{Box: [4]float32{float32(x0), float32(y0), float32(x1 - x0), float32(y1 - y0)}, Score: 0.9}}, nil
}

// Landmarks are fakeModel's: the canonical mesh laid into each box.
func (m *markerModel) Landmarks(ctx context.Context, img *image.NRGBA, dets []engine.Detection) ([]engine.Face, error) {
	return (&fakeModel{}).Landmarks(ctx, img, dets)
}

func (m *markerModel) Precision() models.Precision { return models.FP32 }
func (m *markerModel) Device() engine.Device       { return engine.Device{Kind: engine.KindCPU} }

// markerJPEG is a w×h grey JPEG with a red square at sq, stored for EXIF
// orientation o (jpegOriented).
func markerJPEG(t testing.TB, w, h int, sq image.Rectangle, o int) []byte {
	t.Helper()
	up := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(up, up.Rect, image.NewUniform(color.RGBA{128, 128, 128, 255}), image.Point{}, draw.Src)
	draw.Draw(up, sq, image.NewUniform(color.RGBA{230, 20, 20, 255}), image.Point{}, draw.Src)
	return jpegOriented(t, up, o)
}

// jpegOriented encodes up (q95) as a camera stores it under EXIF orientation
// o (1, 3 or 6): the pixels turned so that displaying them as o says gives
// up, and o in an APP1 Exif segment (a big-endian TIFF header with one IFD
// entry, Orientation SHORT o).
func jpegOriented(t testing.TB, up *image.RGBA, o int) []byte {
	t.Helper()
	w, h := up.Rect.Dx(), up.Rect.Dy()
	var stored image.Image = up
	switch o {
	case 1:
	case 3: // displayed = stored turned 180°
		r := image.NewRGBA(up.Rect)
		for y := range h {
			for x := range w {
				r.SetRGBA(x, y, up.RGBAAt(w-1-x, h-1-y))
			}
		}
		stored = r
	case 6: // displayed = stored turned 90° clockwise
		r := image.NewRGBA(image.Rect(0, 0, h, w))
		for sy := range w {
			for sx := range h {
				r.SetRGBA(sx, sy, up.RGBAAt(w-1-sy, sx))
			}
		}
		stored = r
	default:
		t.Fatalf("orientation %d not made here", o)
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, stored, &jpeg.Options{Quality: 95}))
	if o == 1 {
		return buf.Bytes()
	}
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, 0, 0, 0, 0}
	seg := append([]byte("Exif\x00\x00"), tiff...)
	j := buf.Bytes()
	out := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	return append(out, j[2:]...)
}

// TestReducedDecodeMapsToWholePicture runs 12 MP pictures with a red
// "face" through the pipeline with markerModel: the result's box and
// landmarks must be where the square is in the whole upright picture (to
// within a pixel of the decoded scale, plus JPEG's blur at the edges) under
// EXIF orientations 1, 3 and 6, whether the decode was scaled (a big
// square: the whole frame at 5/8) or a region (a small square: scale 1),
// and the detector must have seen the pictures the plan says: the 1/8
// pre-pass, then the reduced picture (a region with the whole frame around
// it, over the pre-pass picture).
func TestReducedDecodeMapsToWholePicture(t *testing.T) {
	if imagedecode.JPEGDecoder != "libjpeg-turbo" {
		t.Skip("the reduced decode needs libjpeg-turbo's DCT scaling (image/jpeg decodes whole)")
	}
	t.Parallel()
	for _, tc := range []struct {
		name   string
		sq     image.Rectangle
		scale  imagedecode.Scale
		region bool
		tol    float32 // px in the whole picture
	}{
		{"big", image.Rect(1100, 600, 2900, 2400), imagedecode.Scale{Num: 5, Denom: 8}, false, 3},
		{"small", image.Rect(2900, 1900, 3300, 2300), imagedecode.Scale{Num: 1, Denom: 1}, true, 2},
	} {
		for _, o := range []int{1, 3, 6} {
			t.Run(fmt.Sprintf("%s-o%d", tc.name, o), func(t *testing.T) {
				t.Parallel()
				data := markerJPEG(t, 4032, 3024, tc.sq, o)
				m := &markerModel{}
				p := New(m, imagedecode.DefaultLimits(), nil)
				pl, err := p.plan(t.Context(), data, Options{}.WithDefaults())
				require.NoError(t, err)
				require.Equal(t, tc.scale, pl.req.Scale)
				require.Equal(t, tc.region, !pl.req.Region.Empty())
				if tc.region {
					require.True(t, tc.sq.In(pl.req.Region), "region %v holds the square %v", pl.req.Region, tc.sq)
				}
				m.sizes, m.opts = nil, nil
				out, err := p.Run(t.Context(), data, Options{Geometry: true}, nil)
				require.NoError(t, err)
				defer out.Release()
				require.Equal(t, ImageInfo{Width: 4032, Height: 3024, Format: "jpeg", Orientation: o}, out.Result.Image)
				want := [4]float32{float32(tc.sq.Min.X), float32(tc.sq.Min.Y), float32(tc.sq.Dx()), float32(tc.sq.Dy())}
				require.Len(t, out.Result.Faces, 1)
				f := out.Result.Faces[0]
				for i := range want {
					require.InDelta(t, want[i], f.BBox[i], float64(tc.tol), "bbox %v, want %v", f.BBox, want)
				}
				// markerModel put the mesh's origin at the square's centre, at
				// box/18 pixels per unit (fakeModel), z on x's scale: so must
				// the result.
				cx, cy := float32(tc.sq.Min.X+tc.sq.Max.X)/2, float32(tc.sq.Min.Y+tc.sq.Max.Y)/2
				v, got := models.Canonical().Vertices[1], f.Landmarks[1]
				s := float32(tc.sq.Dx()) / 18
				require.InDelta(t, cx, got[0]-s*v[0], float64(tc.tol))
				require.InDelta(t, cy, got[1]+s*v[1], float64(tc.tol))
				require.InDelta(t, -s*v[2], got[2], float64(tc.tol)*math.Abs(float64(v[2]))/18+0.5)
				require.NotNil(t, f.Pose, "a pose from landmarks in whole-picture pixels")
				// The pre-pass saw the 1/8 picture, the detect stage the
				// reduced one.
				require.Len(t, m.sizes, 2)
				require.Equal(t, image.Pt(504, 378), m.sizes[0])
				require.Empty(t, m.opts[0].Frame)
				if !tc.region {
					require.Equal(t, image.Pt(2520, 1890), m.sizes[1])
					require.Empty(t, m.opts[1].Frame)
					require.Nil(t, m.opts[1].Background)
				} else {
					// The region's own size, framed in the whole picture.
					require.Less(t, m.sizes[1].X, 2000)
					fr := m.opts[1].Frame
					require.Equal(t, image.Pt(4032, 3024), fr.Size())
					require.True(t, image.Rectangle{Max: m.sizes[1]}.In(fr), "frame %v holds the region", fr)
					require.Equal(t, image.Pt(504, 378), m.opts[1].Background.Rect.Size())
				}
			})
		}
	}
}
