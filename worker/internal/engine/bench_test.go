package engine

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func BenchmarkDetect(b *testing.B) {
	e := setup(b)
	img := loadPhoto(b, "bf_Test3.jpg")
	for _, det := range []string{DetectorShort, DetectorFull} {
		b.Run(det, func(b *testing.B) {
			for b.Loop() {
				dets, err := e.Detect(context.Background(), img, DetectOptions{Detector: det})
				require.NoError(b, err)
				require.Len(b, dets, 3)
			}
		})
	}
}

func BenchmarkLandmarks(b *testing.B) {
	e := setup(b)
	img := loadPhoto(b, "bf_Test3.jpg")
	dets, err := e.Detect(context.Background(), img, DetectOptions{})
	require.NoError(b, err)
	for _, n := range []int{1, 3} {
		b.Run(map[int]string{1: "faces=1", 3: "faces=3"}[n], func(b *testing.B) {
			for b.Loop() {
				faces, err := e.Landmarks(context.Background(), img, dets[:n])
				require.NoError(b, err)
				require.Len(b, faces, n)
			}
		})
	}
}

func BenchmarkPreprocess(b *testing.B) {
	img := loadPhoto(b, "bf_Test3.jpg") // 1024×1024
	b.Run("letterbox128", func(b *testing.B) {
		buf := make([]float32, 128*128*3)
		for b.Loop() {
			letterboxInto(buf, img, 128)
		}
	})
	b.Run("letterbox256", func(b *testing.B) {
		buf := make([]float32, 256*256*3)
		for b.Loop() {
			letterboxInto(buf, img, 256)
		}
	})
	b.Run("crop192", func(b *testing.B) {
		buf := make([]float32, 3*landmarkSize*landmarkSize)
		r := ROI{CX: 420, CY: 630, W: 230, H: 230, Rotation: 0.2}
		for b.Loop() {
			cropInto(buf, img, r, landmarkSize)
		}
	})
}
