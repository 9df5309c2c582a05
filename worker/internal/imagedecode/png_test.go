package imagedecode

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// pngVariants encodes one real photo as every kind of PNG image/png writes:
// 8-bit grey, RGB and RGBA (the plain ones libpng takes), a palette with and
// without transparency, 16-bit and 16-bit grey (image/png's).
func pngVariants(t *testing.T) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ddfa_jianzhuguo.jpg"))
	require.NoError(t, err)
	src, err := jpeg.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	r := src.Bounds()
	rgb := image.NewNRGBA(r)
	rgba := image.NewNRGBA(r)
	gray := image.NewGray(r)
	gray16 := image.NewGray16(r)
	rgba64 := image.NewNRGBA64(r)
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{0, 0, 0, 255}, color.NRGBA{128, 64, 32, 255}, color.NRGBA{255, 255, 255, 255}})
	palAlpha := image.NewPaletted(r, color.Palette{color.NRGBA{0, 0, 0, 0}, color.NRGBA{128, 64, 32, 128}, color.NRGBA{255, 255, 255, 255}})
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.NRGBAModel.Convert(src.At(x, y)).(color.NRGBA)
			rgb.SetNRGBA(x, y, c)
			c.A = uint8((x*7 + y*3) % 256)
			rgba.SetNRGBA(x, y, c)
			gray.Set(x, y, src.At(x, y))
			gray16.Set(x, y, src.At(x, y))
			rgba64.Set(x, y, c)
			pal.SetColorIndex(x, y, uint8((x+y)%3))
			palAlpha.SetColorIndex(x, y, uint8((x+y)%3))
		}
	}
	out := map[string][]byte{}
	for name, img := range map[string]image.Image{"gray": gray, "rgb": rgb, "rgba": rgba, "gray16": gray16,
		"rgba64": rgba64, "paletted": pal, "paletted-alpha": palAlpha} {
		var buf bytes.Buffer
		require.NoError(t, png.Encode(&buf, img))
		out[name] = buf.Bytes()
	}
	return out
}

func TestPNGDecodesAsImagePNG(t *testing.T) {
	plain := map[string]bool{"gray": true, "rgb": true, "rgba": true}
	for name, data := range pngVariants(t) {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, plain[name], plainPNG(data), "which files libpng takes")
			want, err := png.Decode(bytes.NewReader(data))
			require.NoError(t, err)
			got, err := Decode(data, DefaultLimits())
			require.NoError(t, err)
			defer got.Release()
			require.Equal(t, toNRGBA(want).Pix, got.NRGBA.Pix, "pixels as image/png decodes them")
		})
	}
}

func TestPNGColourSpaceChunksStayWithImagePNG(t *testing.T) {
	data := pngVariants(t)["rgb"]
	// A gAMA chunk (gamma 1/1.0) right after IHDR: libpng would convert.
	gama := []byte{0, 0, 0, 4, 'g', 'A', 'M', 'A', 0, 1, 0x86, 0xa0, 0, 0, 0, 0}
	withGamma := append(append(append([]byte{}, data[:33]...), gama...), data[33:]...)
	require.False(t, plainPNG(withGamma))
	require.True(t, plainPNG(data))
}

func TestPNGTruncatedIsUndecodable(t *testing.T) {
	data := pngVariants(t)["rgb"]
	for _, n := range []int{len(data) / 2, len(data) - 20} {
		_, err := Decode(data[:n], DefaultLimits())
		require.ErrorIs(t, err, ErrBadImage, "cut at %d of %d", n, len(data))
	}
}

func BenchmarkDecodePNG(b *testing.B) {
	t := &testing.T{}
	data := pngVariants(t)["rgb"]
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			img, err := Decode(data, DefaultLimits())
			if err != nil {
				b.Fatal(err)
			}
			img.Release()
		}
	})
	b.Run("image/png", func(b *testing.B) {
		for b.Loop() {
			if _, err := png.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
