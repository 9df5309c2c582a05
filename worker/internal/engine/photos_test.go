package engine

import (
	"context"
	"fmt"
	"image"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/shared/testkit"
)

// TestFaceCounts checks the number of faces found in the real photos,
// counted by eye: bf_Test3 and ddfa_emma show three faces each, the others
// one. The full-range detector finds a spurious 0.52 box in the hair of
// kj_test1, so that photo is checked with the short-range one only.
func TestFaceCounts(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tc := range []struct {
		photo     string
		faces     int
		detectors []string
	}{
		{"bf_Test1.jpg", 1, []string{DetectorShort, DetectorFull}},
		{"bf_Test3.jpg", 3, []string{DetectorShort, DetectorFull}},
		{"ddfa_emma.jpg", 3, []string{DetectorShort, DetectorFull}},
		{"ddfa_jianzhuguo.jpg", 1, []string{DetectorShort, DetectorFull}},
		{"kj_test1.jpg", 1, []string{DetectorShort}},
		{"kj_test2.jpg", 1, []string{DetectorShort, DetectorFull}},
		{"pexels-dinielle-de-veyra-4195444.jpg", 1, []string{DetectorShort, DetectorFull}},
		{"pexels-sam-lion-5709614.jpg", 1, []string{DetectorShort, DetectorFull}},
		{"pexels-tim-douglas-6567248.jpg", 1, []string{DetectorShort, DetectorFull}},
	} {
		img := loadPhoto(t, tc.photo)
		for _, det := range tc.detectors {
			dets, err := e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{Detector: det})
			require.NoError(t, err)
			require.Len(t, dets, tc.faces, "%s with %s detector", tc.photo, det)
			for i, d := range dets {
				require.GreaterOrEqual(t, d.Score, DefaultMinScore)
				if i > 0 {
					require.LessOrEqual(t, d.Score, dets[i-1].Score)
				}
				// Keypoints inside a generously enlarged box.
				for _, k := range d.Keypoints {
					require.True(t, inBox(k[0], k[1], d.Box, 0.5), "%s keypoint %v outside box %v", tc.photo, k, d.Box)
				}
			}
			faces, err := e.Landmarks(testkit.Context(t, time.Minute), img, dets)
			require.NoError(t, err)
			require.Len(t, faces, tc.faces, "%s landmarks with %s detector", tc.photo, det)
		}
	}
	// MaxFaces keeps the best ones.
	img := loadPhoto(t, "bf_Test3.jpg")
	all, err := e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{})
	require.NoError(t, err)
	two, err := e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{MaxFaces: 2})
	require.NoError(t, err)
	require.Equal(t, all[:2], two)
	// A threshold above every score finds nothing.
	none, err := e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{MinScore: 0.999})
	require.NoError(t, err)
	require.Empty(t, none)
}

// inBox reports whether (x, y) lies in box b enlarged by grow × its size on
// every side.
func inBox(x, y float32, b [4]float32, grow float32) bool {
	return x >= b[0]-grow*b[2] && x <= b[0]+b[2]*(1+grow) && y >= b[1]-grow*b[3] && y <= b[1]+b[3]*(1+grow)
}

// TestLandmarksInsideFace checks that every landmark of every face lies in
// its detection box enlarged by 25% of its size on each side (the largest
// overshoot measured on these photos is 16%, bf_Test3; logged) and has a
// plausible depth: |z| below the box width.
func TestLandmarksInsideFace(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, photo := range []string{"bf_Test1.jpg", "bf_Test3.jpg", "ddfa_jianzhuguo.jpg", "kj_test1.jpg", "kj_test2.jpg",
		"pexels-dinielle-de-veyra-4195444.jpg", "pexels-sam-lion-5709614.jpg", "pexels-tim-douglas-6567248.jpg"} {
		img := loadPhoto(t, photo)
		dets, err := e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{})
		require.NoError(t, err)
		faces, err := e.Landmarks(testkit.Context(t, time.Minute), img, dets)
		require.NoError(t, err)
		require.NotEmpty(t, faces, photo)
		worst := float32(0)
		for _, f := range faces {
			require.Len(t, f.Landmarks, NumLandmarks)
			require.Greater(t, f.Presence, float32(0.5))
			b := f.Box
			for i, l := range f.Landmarks {
				over := max(b[0]-l[0], l[0]-(b[0]+b[2])) / b[2]
				over = max(over, max(b[1]-l[1], l[1]-(b[1]+b[3]))/b[3])
				worst = max(worst, over)
				require.True(t, inBox(l[0], l[1], b, 0.25), "%s landmark %d %v outside box %v", photo, i, l, b)
				require.Less(t, float32(math.Abs(float64(l[2]))), b[2], "%s landmark %d depth %v", photo, i, l[2])
			}
			// The nose tip (1) is nearer the camera than the face's outline
			// at the ears (234, 454).
			require.Less(t, f.Landmarks[1][2], f.Landmarks[234][2], photo)
			require.Less(t, f.Landmarks[1][2], f.Landmarks[454][2], photo)
		}
		t.Logf("%s: largest landmark overshoot beyond the box: %.0f%% of its size", photo, 100*worst)
	}
}

// faceErr is the mean and max distance between two landmark sets relative
// to the face size (box width of a).
func faceErr(a Face, b [][3]float32) (mean, worst float32) {
	for i := range a.Landmarks {
		d := float32(math.Hypot(float64(a.Landmarks[i][0]-b[i][0]), float64(a.Landmarks[i][1]-b[i][1])))
		mean += d
		worst = max(worst, d)
	}
	return mean / float32(len(b)) / a.Box[2], worst / a.Box[2]
}

// nearest returns the face whose box centre is nearest (x, y).
func nearest(faces []Face, x, y float32) Face {
	best, bd := Face{}, float32(math.Inf(1))
	for _, f := range faces {
		d := float32(math.Hypot(float64(f.Box[0]+f.Box[2]/2-x), float64(f.Box[1]+f.Box[3]/2-y)))
		if d < bd {
			best, bd = f, d
		}
	}
	return best
}

// Measured consistency tolerances (fractions of the face box width), set
// about 1.5–2× above the largest values seen on the test photos (logged by
// each test): mean landmark displacement, and worst single landmark.
// Measured: mirror mean ≤ 0.020, max ≤ 0.061; half scale mean ≤ 0.0056,
// max ≤ 0.018.
const (
	mirrorMeanTol, mirrorMaxTol = 0.03, 0.12
	scaleMeanTol, scaleMaxTol   = 0.012, 0.035
)

// TestMirrorConsistency flips photos horizontally: landmark i of the
// original must reappear as landmark Mirror[i] at x' = W - x (continuous
// coordinates; W-1-x in pixel indices).
func TestMirrorConsistency(t *testing.T) {
	t.Parallel()
	e := setup(t)
	mirror := models.Canonical().Mirror
	for _, photo := range []string{"pexels-dinielle-de-veyra-4195444.jpg", "kj_test2.jpg", "bf_Test3.jpg"} {
		img := loadPhoto(t, photo)
		flipped := flipX(img)
		w := float32(img.Rect.Dx())
		a := detectAndLandmark(t, e, img)
		b := detectAndLandmark(t, e, flipped)
		require.Len(t, b, len(a), photo)
		for _, fa := range a {
			cx, cy := fa.Box[0]+fa.Box[2]/2, fa.Box[1]+fa.Box[3]/2
			fb := nearest(b, w-cx, cy)
			back := make([][3]float32, NumLandmarks)
			for i := range back {
				m := fb.Landmarks[mirrorIndex(mirror, i)]
				back[i] = [3]float32{w - m[0], m[1], m[2]}
			}
			mean, worst := faceErr(fa, back)
			t.Logf("%s: mirror mean %.4f max %.4f of face width", photo, mean, worst)
			require.Less(t, mean, float32(mirrorMeanTol), photo)
			require.Less(t, worst, float32(mirrorMaxTol), photo)
		}
	}
}

// TestRotationConsistency rotates a photo by 90° clockwise. BlazeFace is
// not trained on sideways faces, so the detections of the original are
// rotated with the image (this exercises the rotated ROI crop): the
// landmarks must rotate with it, (x, y) → (H - y, x).
func TestRotationConsistency(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, photo := range []string{"pexels-dinielle-de-veyra-4195444.jpg", "pexels-sam-lion-5709614.jpg"} {
		img := loadPhoto(t, photo)
		h := float32(img.Rect.Dy())
		rot := rotate90(img)
		dets, err := e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{})
		require.NoError(t, err)
		require.Len(t, dets, 1)
		a, err := e.Landmarks(testkit.Context(t, time.Minute), img, dets)
		require.NoError(t, err)
		require.Len(t, a, 1)
		rd := dets[0]
		bx, by, bw, bh := rd.Box[0], rd.Box[1], rd.Box[2], rd.Box[3]
		rd.Box = [4]float32{h - (by + bh), bx, bh, bw}
		for k, p := range dets[0].Keypoints {
			rd.Keypoints[k] = [2]float32{h - p[1], p[0]}
		}
		b, err := e.Landmarks(testkit.Context(t, time.Minute), rot, []Detection{rd})
		require.NoError(t, err)
		require.Len(t, b, 1)
		require.InDelta(t, a[0].ROI.Rotation+math.Pi/2, b[0].ROI.Rotation, 1e-4)
		back := make([][3]float32, NumLandmarks)
		for i, l := range b[0].Landmarks {
			back[i] = [3]float32{l[1], h - l[0], l[2]}
		}
		mean, worst := faceErr(a[0], back)
		t.Logf("%s: rotation mean %.4f max %.4f of face width", photo, mean, worst)
		// A 90° turn maps the sampling grid onto itself, so the crop is
		// the same tensor and the landmarks must agree to rounding.
		require.Less(t, worst, float32(1e-3), photo)
	}
}

// TestScaleConsistency halves photos: landmarks must halve too (z included).
func TestScaleConsistency(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, photo := range []string{"pexels-dinielle-de-veyra-4195444.jpg", "bf_Test3.jpg", "kj_test2.jpg"} {
		img := loadPhoto(t, photo)
		a := detectAndLandmark(t, e, img)
		b := detectAndLandmark(t, e, halve(img))
		require.Len(t, b, len(a), photo)
		for _, fa := range a {
			fb := nearest(b, (fa.Box[0]+fa.Box[2]/2)/2, (fa.Box[1]+fa.Box[3]/2)/2)
			back := make([][3]float32, NumLandmarks)
			var zerr float32
			for i, l := range fb.Landmarks {
				back[i] = [3]float32{2 * l[0], 2 * l[1], 2 * l[2]}
				zerr += float32(math.Abs(float64(2*l[2]-fa.Landmarks[i][2]))) / NumLandmarks
			}
			mean, worst := faceErr(fa, back)
			t.Logf("%s: scale mean %.4f max %.4f, z mean %.4f of face width", photo, mean, worst, zerr/fa.Box[2])
			require.Less(t, mean, float32(scaleMeanTol), photo)
			require.Less(t, worst, float32(scaleMaxTol), photo)
			require.Less(t, zerr/fa.Box[2], float32(scaleMeanTol), photo)
		}
	}
}

// mirrorIndex is the mirror partner of landmark i among the 478: the mesh's
// mirror pairs, and iris point k of one eye ↔ the other eye's point on the
// mirrored side (±x boundary points swap, see irisMirrorOrder).
func mirrorIndex(mesh []int, i int) int {
	if i < NumMeshLandmarks {
		return mesh[i]
	}
	k := i - NumMeshLandmarks
	eye, p := k/NumIrisLandmarks, k%NumIrisLandmarks
	return NumMeshLandmarks + (1-eye)*NumIrisLandmarks + irisMirrorOrder[p]
}

func detectAndLandmark(t *testing.T, e *Engine, img *image.NRGBA) []Face {
	t.Helper()
	dets, err := e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{})
	require.NoError(t, err)
	faces, err := e.Landmarks(testkit.Context(t, time.Minute), img, dets)
	require.NoError(t, err)
	require.Len(t, faces, len(dets))
	return faces
}

// TestNoFace: images without faces give zero detections, not an error.
func TestNoFace(t *testing.T) {
	t.Parallel()
	e := setup(t)
	grad := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	for y := range 480 {
		for x := range 640 {
			o := y*grad.Stride + x*4
			grad.Pix[o], grad.Pix[o+1], grad.Pix[o+2], grad.Pix[o+3] = uint8(x*255/639), uint8(y*255/479), 128, 255
		}
	}
	// The wall above the people in bf_Test3.
	wall := loadPhoto(t, "bf_Test3.jpg").SubImage(image.Rect(450, 0, 1024, 380)).(*image.NRGBA)
	for name, img := range map[string]*image.NRGBA{"gradient": grad, "wall": wall, "tiny": image.NewNRGBA(image.Rect(0, 0, 1, 1))} {
		for _, det := range []string{DetectorShort, DetectorFull} {
			dets, err := e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{Detector: det})
			require.NoError(t, err, name)
			require.Empty(t, dets, "%s with %s detector", name, det)
		}
	}
	faces, err := e.Landmarks(testkit.Context(t, time.Minute), grad, nil)
	require.NoError(t, err)
	require.Empty(t, faces)

	// A landmark crop of the gradient: the presence check drops it.
	d := Detection{Box: [4]float32{200, 150, 150, 150}}
	d.Keypoints[KeypointRightEye] = [2]float32{240, 200}
	d.Keypoints[KeypointLeftEye] = [2]float32{310, 200}
	faces, err = e.Landmarks(testkit.Context(t, time.Minute), grad, []Detection{d})
	require.NoError(t, err)
	require.Empty(t, faces, "a face in a plain gradient")
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	img := loadPhoto(t, "kj_test1.jpg")
	_, err := e.Detect(testkit.Context(t, time.Minute), nil, DetectOptions{})
	require.ErrorIs(t, err, ErrInvalidOptions)
	_, err = e.Detect(testkit.Context(t, time.Minute), image.NewNRGBA(image.Rect(0, 0, 0, 0)), DetectOptions{})
	require.ErrorIs(t, err, ErrInvalidOptions)
	_, err = e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{Detector: "long"})
	require.ErrorIs(t, err, ErrInvalidOptions)
	_, err = e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{MaxFaces: -1})
	require.ErrorIs(t, err, ErrInvalidOptions)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.Detect(ctx, img, DetectOptions{})
	require.ErrorIs(t, err, context.Canceled)
	_, err = e.Landmarks(ctx, img, []Detection{{Box: [4]float32{1, 1, 10, 10}}})
	require.ErrorIs(t, err, context.Canceled)
}

// TestCUDAUnavailable: asking for a GPU on a machine (or runtime build)
// without the CUDA / TensorRT provider fails with a typed error.
func TestCUDAUnavailable(t *testing.T) {
	t.Parallel()
	setup(t)
	for _, d := range []string{"cuda:0", "tensorrt:0"} {
		dev, err := ParseDevice(d)
		require.NoError(t, err)
		e, err := New(Config{LibraryPath: testLibrary(), Device: dev, Logger: testkit.Logger(t)})
		if err == nil {
			require.NoError(t, e.Close())
			t.Skipf("%s is available here", d)
		}
		require.ErrorIs(t, err, ErrProviderUnavailable, d)
		t.Logf("%s: %v", d, err)
	}
}

// TestLifecycle creates a separate engine, uses it and closes it.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	setup(t)
	e, err := New(Config{LibraryPath: testLibrary(), IntraOpThreads: 1, Logger: testkit.Logger(t)})
	require.NoError(t, err)
	require.Equal(t, models.FP32, e.Precision())
	require.Equal(t, Device{Kind: KindCPU}, e.Device())
	require.False(t, e.BatchesLandmarks(), "the FP32 landmark model has batch 1")
	img := loadPhoto(t, "kj_test1.jpg")
	dets, err := e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{})
	require.NoError(t, err)
	require.Len(t, dets, 1)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close())
	_, err = e.Detect(testkit.Context(t, time.Minute), img, DetectOptions{})
	require.ErrorIs(t, err, ErrClosed)
	_, err = e.Landmarks(testkit.Context(t, time.Minute), img, dets)
	require.ErrorIs(t, err, ErrClosed)
	// FP16 files are produced by models/cmd/onnxfp16; without them New
	// reports ErrModel.
	if _, err := models.ONNX(models.Landmark, models.FP16); err != nil {
		_, err := New(Config{LibraryPath: testLibrary(), Precision: models.FP16})
		require.ErrorIs(t, err, ErrModel)
	}
}

// TestLandmarksConcurrentCallsAgree runs Landmarks from several goroutines
// at once on the shared engine (its v2 and blendshape networks run beside
// FaceMesh inside each call): every result equals the sequential one. Run
// with -race it checks that no session is shared between calls.
func TestLandmarksConcurrentCallsAgree(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	type job struct {
		img  *image.NRGBA
		dets []Detection
		want []Face
	}
	var jobs []job
	for _, name := range []string{"bf_Test3.jpg", "kj_test2.jpg"} {
		img := loadPhoto(t, name)
		dets, err := e.Detect(ctx, img, DetectOptions{})
		require.NoError(t, err)
		want, err := e.Landmarks(ctx, img, dets)
		require.NoError(t, err)
		require.NotEmpty(t, want)
		jobs = append(jobs, job{img, dets, want})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func(j job) {
			defer wg.Done()
			got, err := e.Landmarks(ctx, j.img, j.dets)
			if err == nil && !reflect.DeepEqual(got, j.want) {
				err = fmt.Errorf("concurrent result differs from the sequential one")
			}
			errs <- err
		}(jobs[i%len(jobs)])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
