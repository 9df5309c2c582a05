package texture_test

import (
	"bytes"
	"image"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/texture"
)

func randomImage(w, h int, seed uint64) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		// Mostly smooth with noise, some transparent runs: like a texture.
		switch {
		case i%4 == 3:
			img.Pix[i] = uint8(255 * (i / 4 / 97 % 2))
		default:
			img.Pix[i] = uint8(i/4%w) + uint8(r.IntN(8))
		}
	}
	return img
}

func roundTrip(t *testing.T, img *image.NRGBA) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, texture.EncodePNG(&buf, img))
	got, err := png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, img.Rect.Size(), got.Bounds().Size())
	n, ok := got.(*image.NRGBA)
	require.True(t, ok, "decoded as %T", got)
	w4 := img.Rect.Dx() * 4
	for y := range img.Rect.Dy() {
		want := img.Pix[y*img.Stride : y*img.Stride+w4]
		require.Equal(t, want, n.Pix[y*n.Stride:y*n.Stride+w4], "row %d", y)
	}
}

func TestEncodePNGRoundTrip(t *testing.T) {
	t.Parallel()
	for _, sz := range [][2]int{{1, 1}, {3, 1}, {1, 300}, {256, 256}, {1024, 1024}, {777, 513}} {
		roundTrip(t, randomImage(sz[0], sz[1], uint64(sz[0]*sz[1])))
	}
}

func TestEncodePNGSubImage(t *testing.T) {
	t.Parallel()
	img := randomImage(300, 300, 7)
	sub := img.SubImage(image.Rect(17, 33, 290, 201)).(*image.NRGBA)
	var buf bytes.Buffer
	require.NoError(t, texture.EncodePNG(&buf, sub))
	got, err := png.Decode(&buf)
	require.NoError(t, err)
	require.Equal(t, sub.Rect.Size(), got.Bounds().Size())
	for y := range sub.Rect.Dy() {
		for x := range sub.Rect.Dx() {
			require.Equal(t, sub.NRGBAAt(sub.Rect.Min.X+x, sub.Rect.Min.Y+y), got.(*image.NRGBA).NRGBAAt(x, y))
		}
	}
}

func TestEncodePNGEmpty(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, texture.EncodePNG(&bytes.Buffer{}, nil), texture.ErrInvalidInput)
	require.ErrorIs(t, texture.EncodePNG(&bytes.Buffer{}, image.NewNRGBA(image.Rectangle{})), texture.ErrInvalidInput)
}

func FuzzEncodePNG(f *testing.F) {
	f.Add(uint16(1), uint16(1), uint64(0))
	f.Add(uint16(129), uint16(200), uint64(3))
	f.Fuzz(func(t *testing.T, w, h uint16, seed uint64) {
		w, h = w%300+1, h%300+1
		roundTrip(t, randomImage(int(w), int(h), seed))
	})
}
