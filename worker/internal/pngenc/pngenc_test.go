package pngenc_test

import (
	"bytes"
	"errors"
	"hash/adler32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// fill sets pix to a texture-like pattern: a gradient along the row with a
// little noise, and runs of zeros (transparent or background).
func fill(pix []byte, rowLen int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range pix {
		x, y := i%rowLen, i/rowLen
		switch {
		case (x/37+y/23)%5 == 0:
			pix[i] = 0
		default:
			pix[i] = uint8(x+y/3) + uint8(r.IntN(8))
		}
	}
}

func newNRGBA(w, h int, seed uint64) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	fill(m.Pix, m.Stride, seed)
	return m
}

func newGray16(w, h int, seed uint64) *image.Gray16 {
	m := image.NewGray16(image.Rect(0, 0, w, h))
	fill(m.Pix, m.Stride, seed)
	return m
}

func newGray(w, h int, seed uint64) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	fill(m.Pix, m.Stride, seed)
	return m
}

// requireSame checks that got has want's size and exactly its pixels, with
// got's bounds starting at the origin.
func requireSame(t testing.TB, want image.Image, got image.Image) {
	t.Helper()
	b := want.Bounds()
	require.Equal(t, image.Rectangle{Max: b.Size()}, got.Bounds())
	switch w := want.(type) {
	case *image.NRGBA:
		g, ok := got.(*image.NRGBA)
		require.True(t, ok, "decoded as %T", got)
		for y := range b.Dy() {
			require.Equal(t, w.Pix[y*w.Stride:][:4*b.Dx()], g.Pix[y*g.Stride:][:4*b.Dx()], "row %d", y)
		}
	case *image.Gray16:
		g, ok := got.(*image.Gray16)
		require.True(t, ok, "decoded as %T", got)
		for y := range b.Dy() {
			require.Equal(t, w.Pix[y*w.Stride:][:2*b.Dx()], g.Pix[y*g.Stride:][:2*b.Dx()], "row %d", y)
		}
	case *image.Gray:
		g, ok := got.(*image.Gray)
		require.True(t, ok, "decoded as %T", got)
		for y := range b.Dy() {
			require.Equal(t, w.Pix[y*w.Stride:][:b.Dx()], g.Pix[y*g.Stride:][:b.Dx()], "row %d", y)
		}
	default:
		t.Fatalf("unexpected %T", want)
	}
}

func roundTrip(t testing.TB, e *pngenc.Encoder, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, e.Encode(&buf, img))
	got, err := png.Decode(&buf)
	require.NoError(t, err)
	requireSame(t, img, got)
}

var sizes = [][2]int{{1, 1}, {3, 1}, {1, 300}, {7, 5}, {256, 256}, {777, 513}, {1024, 1024}}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	makers := map[string]func(w, h int, seed uint64) image.Image{
		"nrgba":  func(w, h int, s uint64) image.Image { return newNRGBA(w, h, s) },
		"gray16": func(w, h int, s uint64) image.Image { return newGray16(w, h, s) },
		"gray":   func(w, h int, s uint64) image.Image { return newGray(w, h, s) },
	}
	for name, mk := range makers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var e pngenc.Encoder // reused: pooled bands must not leak state
			for _, sz := range sizes {
				roundTrip(t, &e, mk(sz[0], sz[1], uint64(sz[0]*sz[1])))
			}
		})
	}
}

func TestRoundTripBands(t *testing.T) {
	t.Parallel()
	img := newGray16(301, 97, 5)
	for _, nb := range []int{1, 2, 3, 8, 96, 97, 98, 1000} {
		roundTrip(t, &pngenc.Encoder{Bands: nb}, img)
	}
	// One band per row of a 1-row image, and more bands than rows.
	roundTrip(t, &pngenc.Encoder{Bands: 4}, newNRGBA(9, 1, 1))
}

func TestRoundTripSubImage(t *testing.T) {
	t.Parallel()
	r := image.Rect(17, 33, 290, 201)
	for _, img := range []interface {
		image.Image
		SubImage(image.Rectangle) image.Image
	}{newNRGBA(300, 300, 7), newGray16(300, 300, 8), newGray(300, 300, 9)} {
		sub := img.SubImage(r)
		var buf bytes.Buffer
		require.NoError(t, pngenc.Encode(&buf, sub))
		got, err := png.Decode(&buf)
		require.NoError(t, err)
		require.Equal(t, r.Size(), got.Bounds().Size())
		for y := range r.Dy() {
			for x := range r.Dx() {
				require.Equal(t, sub.At(r.Min.X+x, r.Min.Y+y), got.At(x, y), "%T (%d, %d)", img, x, y)
			}
		}
	}
}

// TestSparseMap round-trips the kind of image the geometry stage makes: a
// large mostly-zero map with a small covered region.
func TestSparseMap(t *testing.T) {
	t.Parallel()
	img := image.NewGray16(image.Rect(0, 0, 1000, 700))
	for y := 300; y < 420; y++ {
		for x := 510; x < 600; x++ {
			img.SetGray16(x, y, color.Gray16{Y: uint16(1 + x*y)})
		}
	}
	roundTrip(t, &pngenc.Encoder{}, img)
}

func TestErrors(t *testing.T) {
	t.Parallel()
	for _, img := range []image.Image{
		nil,
		(*image.NRGBA)(nil),
		(*image.Gray16)(nil),
		(*image.Gray)(nil),
		image.NewNRGBA(image.Rectangle{}),
		image.NewGray16(image.Rect(3, 3, 3, 10)),
		image.NewGray(image.Rect(0, 0, 5, 0)),
	} {
		require.ErrorIs(t, pngenc.Encode(&bytes.Buffer{}, img), pngenc.ErrEmpty, "%#v", img)
	}
	require.ErrorIs(t, pngenc.Encode(&bytes.Buffer{}, image.NewRGBA(image.Rect(0, 0, 2, 2))), pngenc.ErrUnsupported)
	// Pixels shorter than the rectangle says.
	bad := &image.Gray{Pix: make([]byte, 10), Stride: 4, Rect: image.Rect(0, 0, 4, 4)}
	require.ErrorIs(t, pngenc.Encode(&bytes.Buffer{}, bad), pngenc.ErrUnsupported)
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

var errWrite = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errWrite
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	img := newNRGBA(200, 300, 3)
	var full bytes.Buffer
	require.NoError(t, pngenc.Encode(&full, img))
	for _, n := range []int{0, 8, 20, 40, full.Len() / 2, full.Len() - 1} {
		require.ErrorIs(t, pngenc.Encode(&failWriter{n: n}, img), errWrite, "fail after %d", n)
	}
	require.NoError(t, pngenc.Encode(&failWriter{n: full.Len()}, img))
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	img := newNRGBA(640, 480, 11)
	var a, b bytes.Buffer
	require.NoError(t, pngenc.Encode(&a, img))
	require.NoError(t, pngenc.Encode(&b, img))
	require.Equal(t, a.Bytes(), b.Bytes())
}

func TestUpFilter(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 40 {
		cur, prev := make([]byte, n), make([]byte, n)
		for i := range n {
			cur[i], prev[i] = uint8(r.IntN(256)), uint8(r.IntN(256))
		}
		// The edge cases of the borrow trick.
		if n >= 4 {
			cur[0], prev[0] = 0, 255
			cur[1], prev[1] = 128, 127
			cur[2], prev[2] = 127, 128
			cur[3], prev[3] = 0x80, 0x80
		}
		got := make([]byte, n)
		pngenc.UpFilter(got, cur, prev)
		for i := range n {
			require.Equal(t, cur[i]-prev[i], got[i], "len %d byte %d", n, i)
		}
	}
}

func TestAdler32Combine(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range [][2]int{{0, 0}, {0, 5}, {5, 0}, {1, 1}, {65521, 3}, {70000, 131072}, {r.IntN(70000), 5551}, {r.IntN(70000), 200000}} {
		a, b := make([]byte, n[0]), make([]byte, n[1])
		for i := range a {
			a[i] = 255 - uint8(r.IntN(3))
		}
		for i := range b {
			b[i] = 255 - uint8(r.IntN(3))
		}
		want := adler32.Checksum(append(append([]byte{}, a...), b...))
		require.Equal(t, want, pngenc.Adler32Combine(adler32.Checksum(a), adler32.Checksum(b), int64(len(b))), "%v", n)
	}
}

func TestAutoBands(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, pngenc.AutoBands(4, 1))
	require.Equal(t, 1, pngenc.AutoBands(4*128, 128)) // 64 KiB: one band
	require.GreaterOrEqual(t, pngenc.AutoBands(4*1024, 1024), 2)
	require.LessOrEqual(t, pngenc.AutoBands(4*20000, 20000), 32)
}

func FuzzEncode(f *testing.F) {
	f.Add(uint8(0), uint16(1), uint16(1), uint8(0), uint64(0))
	f.Add(uint8(1), uint16(129), uint16(200), uint8(3), uint64(3))
	f.Add(uint8(2), uint16(300), uint16(2), uint8(7), uint64(9))
	f.Fuzz(func(t *testing.T, kind uint8, w, h uint16, bands uint8, seed uint64) {
		w, h = w%300+1, h%300+1
		var img image.Image
		switch kind % 3 {
		case 0:
			img = newNRGBA(int(w), int(h), seed)
		case 1:
			img = newGray16(int(w), int(h), seed)
		default:
			img = newGray(int(w), int(h), seed)
		}
		roundTrip(t, &pngenc.Encoder{Bands: int(bands % 40)}, img)
	})
}

func TestAdler32(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 63, 5552, 65536, 1<<20 + 13, 3<<20 + 5} {
		p := make([]byte, n)
		for i := range p {
			switch {
			case i%1000 < 300: // zero runs, as in sparse maps
			case i%1000 < 400:
				p[i] = 255
			default:
				p[i] = uint8(r.IntN(256))
			}
		}
		require.Equal(t, adler32.Checksum(p), pngenc.Adler32(p), "len %d", n)
	}
}
