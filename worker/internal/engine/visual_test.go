package engine

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDumpOverlays draws detections (box, keypoints) and landmarks on every
// test photo and writes PNGs to $FACEFLEET_ENGINE_DUMP, for looking at the
// results. Skipped unless that variable is set; FACEFLEET_ENGINE_DUMP_ONLY
// limits it to file names containing that string.
func TestDumpOverlays(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("FACEFLEET_ENGINE_DUMP")
	if dir == "" {
		t.Skip("set FACEFLEET_ENGINE_DUMP=DIR to write overlay PNGs")
	}
	e := setup(t)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	entries, err := os.ReadDir("testdata")
	require.NoError(t, err)
	for _, ent := range entries {
		if !strings.HasSuffix(ent.Name(), ".jpg") || !strings.Contains(ent.Name(), os.Getenv("FACEFLEET_ENGINE_DUMP_ONLY")) {
			continue
		}
		for _, det := range []string{DetectorShort, DetectorFull} {
			img := loadPhoto(t, ent.Name())
			dets, err := e.Detect(context.Background(), img, DetectOptions{Detector: det})
			require.NoError(t, err)
			faces, err := e.Landmarks(context.Background(), img, dets)
			require.NoError(t, err)
			out := image.NewNRGBA(img.Rect)
			copy(out.Pix, img.Pix)
			for _, d := range dets {
				t.Logf("%s %s: box %.0f score %.3f", ent.Name(), det, d.Box, d.Score)
				drawRect(out, d.Box, color.NRGBA{0, 255, 0, 255})
				for k, p := range d.Keypoints {
					dot(out, p[0], p[1], 4, []color.NRGBA{{255, 0, 0, 255}, {0, 0, 255, 255}, {255, 255, 0, 255}, {255, 0, 255, 255}, {0, 255, 255, 255}, {255, 255, 255, 255}}[k])
				}
			}
			for _, f := range faces {
				t.Logf("  presence %.3f roi %+v", f.Presence, f.ROI)
				for _, l := range f.Landmarks {
					dot(out, l[0], l[1], 1, color.NRGBA{0, 255, 0, 255})
				}
			}
			name := filepath.Join(dir, fmt.Sprintf("%s-%s.png", strings.TrimSuffix(ent.Name(), ".jpg"), det))
			fh, err := os.Create(name)
			require.NoError(t, err)
			require.NoError(t, png.Encode(fh, out))
			require.NoError(t, fh.Close())
		}
	}
}

func dot(img *image.NRGBA, x, y float32, r int, c color.NRGBA) {
	cx, cy := int(x), int(y)
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if image.Pt(cx+dx, cy+dy).In(img.Rect) {
				img.SetNRGBA(cx+dx, cy+dy, c)
			}
		}
	}
}

func drawRect(img *image.NRGBA, b [4]float32, c color.NRGBA) {
	x0, y0, x1, y1 := int(b[0]), int(b[1]), int(b[0]+b[2]), int(b[1]+b[3])
	for x := x0; x <= x1; x++ {
		for _, y := range []int{y0, y1} {
			if image.Pt(x, y).In(img.Rect) {
				img.SetNRGBA(x, y, c)
			}
		}
	}
	for y := y0; y <= y1; y++ {
		for _, x := range []int{x0, x1} {
			if image.Pt(x, y).In(img.Rect) {
				img.SetNRGBA(x, y, c)
			}
		}
	}
}
