package engine

import (
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
)

func TestParseDevice(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Device{
		"cpu":        {Kind: KindCPU},
		" CPU ":      {Kind: KindCPU},
		"cpu:0":      {Kind: KindCPU},
		"cuda":       {Kind: KindCUDA},
		"cuda:0":     {Kind: KindCUDA},
		"cuda:3":     {Kind: KindCUDA, ID: 3},
		"tensorrt:1": {Kind: KindTensorRT, ID: 1},
		"TensorRT":   {Kind: KindTensorRT},
	} {
		got, err := ParseDevice(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		again, err := ParseDevice(got.String())
		require.NoError(t, err)
		require.Equal(t, got, again, "String round trip of %q", in)
	}
	for _, in := range []string{"", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:+1", "cpu:1", "rocm:0", "cuda:1:2"} {
		_, err := ParseDevice(in)
		require.ErrorIs(t, err, ErrInvalidDevice, "%q", in)
	}
}

func FuzzParseDevice(f *testing.F) {
	for _, s := range []string{"cpu", "cuda:0", "tensorrt:12", "cuda:", ":", "cuda:99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDevice(s)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidDevice)
			return
		}
		require.Contains(t, []string{KindCPU, KindCUDA, KindTensorRT}, d.Kind)
		require.GreaterOrEqual(t, d.ID, 0)
		again, err := ParseDevice(d.String())
		require.NoError(t, err)
		require.Equal(t, d, again)
	})
}

func TestProviderOptions(t *testing.T) {
	t.Parallel()
	require.Nil(t, ProviderOptions(Device{Kind: KindCPU}, models.FP32, ""))
	cuda := ProviderOptions(Device{Kind: KindCUDA, ID: 2}, models.FP16, "/ignored")
	require.Equal(t, "2", cuda["device_id"])
	require.Equal(t, "HEURISTIC", cuda["cudnn_conv_algo_search"])
	require.NotContains(t, cuda, "trt_engine_cache_path")

	trt := ProviderOptions(Device{Kind: KindTensorRT, ID: 1}, models.FP16, "/var/cache/trt")
	require.Equal(t, map[string]string{
		"device_id":               "1",
		"trt_fp16_enable":         "true",
		"trt_engine_cache_enable": "true",
		"trt_engine_cache_path":   "/var/cache/trt",
	}, trt)
	trt32 := ProviderOptions(Device{Kind: KindTensorRT}, models.FP32, "")
	require.Equal(t, map[string]string{"device_id": "0", "trt_fp16_enable": "false"}, trt32)
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"kind":      {Device: Device{Kind: "rocm"}},
		"ordinal":   {Device: Device{Kind: KindCUDA, ID: -1}},
		"precision": {Precision: "int8"},
		"threads":   {IntraOpThreads: -1},
		"presence":  {MinPresence: 2},
		"batch":     {MaxBatch: -3},
	} {
		_, err := New(cfg)
		require.Error(t, err, name)
		require.True(t, isAny(err, ErrInvalidDevice, ErrInvalidOptions), "%s: %v", name, err)
	}
}

func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errorsIs(err, t) {
			return true
		}
	}
	return false
}

func TestMissingLibrary(t *testing.T) {
	t.Parallel()
	_, err := New(Config{LibraryPath: "/nonexistent/libonnxruntime.so.1"})
	require.ErrorIs(t, err, ErrRuntimeUnavailable)
	require.Contains(t, err.Error(), "/nonexistent/libonnxruntime.so.1")
}

func TestResolveLibraryPath(t *testing.T) {
	t.Setenv(LibraryEnv, "/from/env.so")
	require.Equal(t, "/explicit.so", ResolveLibraryPath("/explicit.so"))
	require.Equal(t, "/from/env.so", ResolveLibraryPath(""))
	t.Setenv(LibraryEnv, "")
	require.Equal(t, DefaultLibraryPath, ResolveLibraryPath(""))
}

func TestSSDAnchors(t *testing.T) {
	t.Parallel()
	for _, spec := range []detectorSpec{shortRange, fullRange} {
		a := ssdAnchors(spec.size, spec.strides)
		require.Len(t, a, 896, spec.name)
		// First map: 16×16 cells, 2 anchors each.
		require.Equal(t, anchor{0.5 / 16, 0.5 / 16}, a[0])
		require.Equal(t, a[0], a[1])
		require.Equal(t, anchor{1.5 / 16, 0.5 / 16}, a[2])
		require.Equal(t, anchor{15.5 / 16, 15.5 / 16}, a[511])
		// Second map: 8×8 cells, 6 anchors each (three layers of stride 16).
		require.Equal(t, anchor{0.5 / 8, 0.5 / 8}, a[512])
		require.Equal(t, a[512], a[517])
		require.Equal(t, anchor{1.5 / 8, 0.5 / 8}, a[518])
		require.Equal(t, anchor{7.5 / 8, 7.5 / 8}, a[895])
	}
}

func box(x0, y0, x1, y1, score float32) rawDetection {
	r := rawDetection{xmin: x0, ymin: y0, xmax: x1, ymax: y1, score: score}
	for k := range numKeypoints {
		r.kp[k] = [2]float32{x0, y1}
	}
	return r
}

func TestWeightedNMS(t *testing.T) {
	t.Parallel()
	cands := []rawDetection{
		box(0.10, 0.10, 0.30, 0.30, 0.6), // overlaps the best one
		box(0.60, 0.60, 0.80, 0.80, 0.7), // separate face
		box(0.12, 0.12, 0.32, 0.32, 0.9), // best
		box(0.40, 0.40, 0.45, 0.45, 0.5), // small, separate
	}
	out := weightedNMS(nil, cands, nmsThreshold, 0)
	require.Len(t, out, 3)
	require.Equal(t, []float32{0.9, 0.7, 0.5}, []float32{out[0].score, out[1].score, out[2].score})
	// Weighted mean of the two overlapping boxes: (0.12*0.9 + 0.10*0.6)/1.5.
	require.InDelta(t, (0.12*0.9+0.10*0.6)/1.5, out[0].xmin, 1e-6)
	require.InDelta(t, (0.32*0.9+0.30*0.6)/1.5, out[0].ymax, 1e-6)
	require.InDelta(t, (0.32*0.9+0.30*0.6)/1.5, out[0].kp[3][1], 1e-6)
	require.InDelta(t, 0.60, out[1].xmin, 1e-6)

	capped := weightedNMS(nil, []rawDetection{box(0, 0, .1, .1, .9), box(.5, .5, .6, .6, .8), box(.2, .2, .3, .3, .95)}, nmsThreshold, 2)
	require.Len(t, capped, 2)
	require.Equal(t, float32(0.95), capped[0].score)
	require.Empty(t, weightedNMS(nil, nil, nmsThreshold, 0))
}

func FuzzWeightedNMS(f *testing.F) {
	f.Add([]byte{10, 10, 40, 40, 200, 12, 12, 44, 44, 150, 90, 90, 120, 120, 100}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, maxOut uint8) {
		var cands []rawDetection
		for ; len(b) >= 5; b = b[5:] {
			x, y := float32(b[0])/255, float32(b[1])/255
			cands = append(cands, box(x, y, x+float32(b[2])/255, y+float32(b[3])/255, float32(b[4])/255))
		}
		n := len(cands)
		out := weightedNMS(nil, cands, nmsThreshold, int(maxOut))
		require.LessOrEqual(t, len(out), n)
		if maxOut > 0 {
			require.LessOrEqual(t, len(out), int(maxOut))
		}
		if n > 0 {
			require.NotEmpty(t, out)
		}
		for i := 1; i < len(out); i++ {
			require.GreaterOrEqual(t, out[i-1].score, out[i].score)
		}
		for _, o := range out {
			require.False(t, math.IsNaN(float64(o.xmin)) || math.IsNaN(float64(o.kp[0][0])))
		}
	})
}

func TestRoiFromDetection(t *testing.T) {
	t.Parallel()
	d := Detection{Box: [4]float32{100, 200, 80, 60}}
	d.Keypoints[KeypointRightEye] = [2]float32{120, 220}
	d.Keypoints[KeypointLeftEye] = [2]float32{160, 220}
	r := RoiFromDetection(d)
	require.Equal(t, ROI{CX: 140, CY: 230, W: 120, H: 120, Rotation: 0}, r)

	// Eye line falling to the right (clockwise head tilt): positive rotation.
	d.Keypoints[KeypointLeftEye] = [2]float32{160, 260}
	require.InDelta(t, math.Pi/4, RoiFromDetection(d).Rotation, 1e-6)
	// Upside-down face: ±π.
	d.Keypoints[KeypointLeftEye] = [2]float32{80, 220}
	require.InDelta(t, math.Pi, math.Abs(float64(RoiFromDetection(d).Rotation)), 1e-6)
}

// TestCropProjectConsistency samples a rotated crop around a single bright
// pixel and checks that projecting the crop position of the brightest
// output back lands on that pixel: crop and landmark projection agree.
func TestCropProjectConsistency(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	const px, py = 170, 90
	img.SetNRGBA(px, py, color.NRGBA{255, 255, 255, 255})
	buf := make([]float32, 3*landmarkSize*landmarkSize)
	for _, rot := range []float32{0, 0.3, -1.2, math.Pi / 2, 3} {
		r := ROI{CX: 160, CY: 100, W: 60, H: 60, Rotation: rot}
		cropInto(buf, img, r, landmarkSize)
		best, bi := float32(-1), 0
		for i, v := range buf[:landmarkSize*landmarkSize] {
			if v > best {
				best, bi = v, i
			}
		}
		u, v := bi%landmarkSize, bi/landmarkSize
		p := r.project(float32(u)+0.5, float32(v)+0.5, 0)
		// The pixel's centre is (px+0.5, py+0.5); one crop pixel is
		// 60/192 image pixels.
		require.InDelta(t, px+0.5, p[0], 0.5, "rotation %v", rot)
		require.InDelta(t, py+0.5, p[1], 0.5, "rotation %v", rot)
	}
}

func TestLetterbox(t *testing.T) {
	t.Parallel()
	// 200×100 image: red left half, blue right half.
	img := image.NewNRGBA(image.Rect(0, 0, 200, 100))
	for y := range 100 {
		for x := range 200 {
			c := color.NRGBA{255, 0, 0, 255}
			if x >= 100 {
				c = color.NRGBA{0, 0, 255, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	const size = 128
	buf := make([]float32, size*size*3)
	lb := letterboxInto(buf, img, size)
	require.InDelta(t, 0.64, lb.scale, 1e-6)
	require.InDelta(t, 0, lb.padX, 1e-6)
	require.InDelta(t, 32, lb.padY, 1e-6)
	at := func(x, y int) []float32 { return buf[(y*size+x)*3:][:3] }
	require.Equal(t, []float32{-1, -1, -1}, at(64, 10))  // top padding
	require.Equal(t, []float32{-1, -1, -1}, at(64, 120)) // bottom padding
	require.Equal(t, []float32{1, -1, -1}, at(10, 64))
	require.Equal(t, []float32{-1, -1, 1}, at(120, 64))
	x, y := lb.toImage(64, 64)
	require.InDelta(t, 100, x, 1e-4)
	require.InDelta(t, 50, y, 1e-4)

	// A sub-image (non-zero Rect.Min) samples its own pixels.
	sub := img.SubImage(image.Rect(100, 0, 200, 100)).(*image.NRGBA)
	lb = letterboxInto(buf, sub, size)
	require.Equal(t, float32(0), lb.padX)
	require.Equal(t, []float32{-1, -1, 1}, at(5, 64))
}

func TestHalfConversion(t *testing.T) {
	t.Parallel()
	in := []float32{0, 1, -1, 0.5, 65504, -2.25, 1e-3, 3.14159}
	raw := make([]byte, 2*len(in))
	toHalf(raw, in)
	out := make([]float32, len(in))
	fromHalf(out, raw)
	for i := range in {
		require.InEpsilon(t, in[i]+1e-9, out[i]+1e-9, 1e-3, "value %v", in[i])
	}
	require.Equal(t, []byte{0x00, 0x3c}, raw[2:4], "1.0 is 0x3c00 little-endian")
}
