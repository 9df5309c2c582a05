package engine

import (
	"image"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInputNormalisation checks the input ranges against the real photos.
//
// Findings (ORT 1.30, FP32 models): both networks are remarkably tolerant of
// the range. Detector scores differ by < 0.05 between [-1, 1] and [0, 1], and
// the landmark presence logit is ≫ 0 either way (27–59), so neither score
// decides. What separates them is agreement between two independent
// networks: the detector's eye and nose keypoints versus the FaceMesh eye
// centres (landmarks 33/133, 263/362) and nose tip (1). Summed over eight
// photos, MediaPipe's ranges (detector [-1, 1], landmarks [0, 1]) disagree
// least (0.172 face widths against 0.180–0.186 for the other three
// combinations), so the engine uses them.
func TestInputNormalisation(t *testing.T) {
	t.Parallel()
	e := setup(t)
	photos := []string{"pexels-dinielle-de-veyra-4195444.jpg", "kj_test2.jpg", "bf_Test1.jpg", "ddfa_jianzhuguo.jpg",
		"kj_test1.jpg", "pexels-sam-lion-5709614.jpg", "pexels-tim-douglas-6567248.jpg", "bf_Test3.jpg"}
	type mode struct{ detSigned, lmUnit bool }
	modes := []mode{{true, true} /* reference */, {true, false}, {false, true}, {false, false}}
	total := make([]float64, len(modes))
	for _, photo := range photos {
		img := loadPhoto(t, photo)
		for mi, m := range modes {
			det, lms, score, presence := runRemapped(t, e, img, m.detSigned, m.lmUnit)
			require.Greater(t, score, DefaultMinScore, "%s %+v", photo, m)
			require.Greater(t, presence, float32(defaultMinPresence), "%s %+v", photo, m)
			mid := func(a, b int) [2]float32 {
				return [2]float32{(lms[a][0] + lms[b][0]) / 2, (lms[a][1] + lms[b][1]) / 2}
			}
			dist := func(p [2]float32, k int) float64 {
				return math.Hypot(float64(p[0]-det.Keypoints[k][0]), float64(p[1]-det.Keypoints[k][1]))
			}
			d := (dist(mid(33, 133), KeypointRightEye) + dist(mid(263, 362), KeypointLeftEye) +
				dist([2]float32{lms[1][0], lms[1][1]}, KeypointNoseTip)) / 3 / float64(det.Box[2])
			total[mi] += d
		}
	}
	for mi, m := range modes {
		t.Logf("detector [-1,1]=%v landmarks [0,1]=%v: keypoint/landmark disagreement %.4f face widths", m.detSigned, m.lmUnit, total[mi])
	}
	for mi := 1; mi < len(modes); mi++ {
		require.Less(t, total[0], total[mi], "reference ranges should agree best, vs %+v", modes[mi])
	}
}

// runRemapped runs the short-range detector and the landmark model on img's
// best face with the chosen input ranges.
func runRemapped(t *testing.T, e *Engine, img *image.NRGBA, detSigned, lmUnit bool) (Detection, [][3]float32, float32, float32) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.short
	buf, err := d.sess.buffers(1)
	require.NoError(t, err)
	lb := letterboxInto(buf.in, img, d.spec.size)
	if !detSigned {
		for i, v := range buf.in {
			buf.in[i] = (v + 1) / 2
		}
	}
	outs, err := d.sess.run(1)
	require.NoError(t, err)
	raws := weightedNMS(nil, d.decode(outs, DefaultMinScore), nmsThreshold, 1)
	require.Len(t, raws, 1)
	r, sz := raws[0], float32(d.spec.size)
	det := Detection{Score: r.score}
	x0, y0 := lb.toImage(r.xmin*sz, r.ymin*sz)
	x1, y1 := lb.toImage(r.xmax*sz, r.ymax*sz)
	det.Box = [4]float32{x0, y0, x1 - x0, y1 - y0}
	for k := range numKeypoints {
		det.Keypoints[k][0], det.Keypoints[k][1] = lb.toImage(r.kp[k][0]*sz, r.kp[k][1]*sz)
	}
	roi := RoiFromDetection(det)
	lbuf, err := e.landmark.buffers(1)
	require.NoError(t, err)
	cropInto(lbuf.in, img, roi, landmarkSize)
	if !lmUnit {
		for i, v := range lbuf.in {
			lbuf.in[i] = 2*v - 1
		}
	}
	lo, err := e.landmark.run(1)
	require.NoError(t, err)
	lms := make([][3]float32, NumMeshLandmarks)
	for i := range lms {
		lms[i] = roi.project(lo[0][3*i], lo[0][3*i+1], lo[0][3*i+2])
	}
	return det, lms, r.score, sigmoid(lo[1][0])
}
