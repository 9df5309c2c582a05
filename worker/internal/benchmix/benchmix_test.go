package benchmix

import (
	"bytes"
	"image"
	"image/color"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// sources are Sources found from this package's directory.
func sources() []string {
	dirs, err := SourceDirs()
	if err != nil {
		panic(err)
	}
	return dirs
}

// built is one Build of the repository's mix for the tests that read it.
var built = sync.OnceValues(func() ([]Photo, error) { return Build(sources()...) })

func TestBuildIsTheTwentyPhotoMix(t *testing.T) {
	mix, err := built()
	require.NoError(t, err)
	require.Len(t, mix, Size)
	names := map[string]bool{}
	kinds := map[string]int{}
	for _, p := range mix {
		require.False(t, names[p.Name], "duplicate %s", p.Name)
		names[p.Name] = true
		// Every photo goes through the pipeline's own decoder.
		img, err := imagedecode.Decode(p.Data, imagedecode.DefaultLimits())
		require.NoError(t, err, p.Name)
		w, h := img.NRGBA.Rect.Dx(), img.NRGBA.Rect.Dy()
		img.Release()
		cfg, format, err := image.DecodeConfig(bytes.NewReader(p.Data))
		require.NoError(t, err, p.Name)
		require.Equal(t, [2]int{cfg.Width, cfg.Height}, [2]int{w, h}, p.Name)
		switch {
		case strings.HasSuffix(p.Name, ".png"):
			require.Equal(t, "png", format)
			require.Equal(t, color.RGBAModel, cfg.ColorModel, "%s: 8-bit, as photos are", p.Name)
			kinds["png"]++
		case strings.Contains(p.Name, "-mirrored"):
			kinds["mirrored"]++
		case strings.Contains(p.Name, "-x3"):
			require.Equal(t, [2]int{3072, 3072}, [2]int{w, h}, p.Name)
			kinds["phone"]++
		default:
			kinds["original"]++
		}
	}
	require.Equal(t, map[string]int{"original": 9, "png": 4, "mirrored": 5, "phone": 2}, kinds)
}

func TestBuildIsDeterministic(t *testing.T) {
	a, err := built()
	require.NoError(t, err)
	b, err := Build(sources()...)
	require.NoError(t, err)
	require.Equal(t, a, b)
}

func TestMirrorFlipsLeftRight(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 3, 1))
	copy(src.Pix, []byte{1, 1, 1, 255, 2, 2, 2, 255, 3, 3, 3, 255})
	require.Equal(t, []byte{3, 3, 3, 255, 2, 2, 2, 255, 1, 1, 1, 255}, mirror(src).Pix)
}

func TestUpscaleKeepsFlatAndInterpolates(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(src.Pix, []byte{0, 0, 0, 255, 200, 200, 200, 255})
	out := upscale(src, 2)
	require.Equal(t, image.Rect(0, 0, 4, 2), out.Rect)
	// Pixel centres 0.25 / 0.75 / 1.25 / 1.75 in source units: 0, 50, 150, 200.
	row := []byte{out.Pix[0], out.Pix[4], out.Pix[8], out.Pix[12]}
	require.Equal(t, []byte{0, 50, 150, 200}, row)
}

func TestBuildWithoutSources(t *testing.T) {
	_, err := Build(t.TempDir())
	require.ErrorContains(t, err, "no .jpg photos")
}

func TestSourceDirsFromASubdirectory(t *testing.T) {
	dirs, err := SourceDirs()
	require.NoError(t, err)
	require.Len(t, dirs, len(Sources))
	for i, d := range dirs {
		require.DirExists(t, d)
		require.True(t, strings.HasSuffix(d, Sources[i]), d)
	}
}
