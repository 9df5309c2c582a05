package geometry

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func requireRotation(t *testing.T, r [3][3]float64) {
	t.Helper()
	m := mat3(r)
	p := m.mul(m.transpose())
	for i := range 3 {
		for j := range 3 {
			want := 0.0
			if i == j {
				want = 1
			}
			require.InDelta(t, want, p[i][j], 1e-9, "R·Rᵀ[%d][%d]", i, j)
		}
	}
	require.InDelta(t, 1, m.det(), 1e-9, "det(R)")
}

func TestFitPoseRecoversAngles(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	cases := []struct {
		name             string
		pitch, yaw, roll float64
	}{
		{"frontal", 0, 0, 0},
		{"yaw right", 0, 30, 0},
		{"yaw left", 0, -30, 0},
		{"pitch up", 20, 0, 0},
		{"pitch down", -20, 0, 0},
		{"roll clockwise", 0, 0, 15},
		{"roll counter-clockwise", 0, 0, -15},
		{"combined 1", 10, -25, 5},
		{"combined 2", -15, 40, -20},
		{"combined 3", 35, 60, 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := synthFace{pitch: tc.pitch, yaw: tc.yaw, roll: tc.roll, scale: 20, w: 640, h: 480}
			p, err := FitPose(s.landmarks(mesh), s.w, s.h, mesh)
			require.NoError(t, err)
			require.InDelta(t, tc.pitch, p.Pitch, 0.5, "pitch")
			require.InDelta(t, tc.yaw, p.Yaw, 0.5, "yaw")
			require.InDelta(t, tc.roll, p.Roll, 0.5, "roll")
			requireRotation(t, p.Rotation)
		})
	}
}

// TestSyntheticSigns checks that the synthetic faces move the way the sign
// conventions describe, in image terms, so the angle tests above are tied to
// the picture and not only to the generator.
func TestSyntheticSigns(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	const nose, forehead, chin = 1, 10, 152
	base := frontal().landmarks(mesh)
	cx := float32(256)

	s := frontal()
	s.yaw = 30
	lm := s.landmarks(mesh)
	require.Greater(t, lm[nose][0], base[nose][0]+10, "yaw > 0: nose moves towards the image's right")

	s = frontal()
	s.pitch = 20
	lm = s.landmarks(mesh)
	require.Less(t, lm[nose][1], base[nose][1]-10, "pitch > 0: nose moves up in the image")

	s = frontal()
	s.roll = 15
	lm = s.landmarks(mesh)
	require.Greater(t, lm[forehead][0], cx+10, "roll > 0: forehead moves right")
	require.Less(t, lm[chin][0], cx-10, "roll > 0: chin moves left (clockwise)")
}

func TestFitPoseFrontalRotation(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	s := frontal()
	p, err := FitPose(s.landmarks(mesh), s.w, s.h, mesh)
	require.NoError(t, err)
	want := [3][3]float64{{1, 0, 0}, {0, -1, 0}, {0, 0, -1}}
	for i := range 3 {
		for j := range 3 {
			require.InDelta(t, want[i][j], p.Rotation[i][j], 1e-6)
		}
	}
}

func TestFitPoseTranslationScale(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	for _, s := range []synthFace{
		{scale: 20, t: [3]float64{0, 0, 0}, w: 512, h: 512},
		{scale: 7.5, t: [3]float64{-12, 8.5, 30}, w: 1024, h: 768, yaw: 20},
		{scale: 55, t: [3]float64{3.25, -1.5, -4}, w: 1920, h: 1080, pitch: -10, roll: 8},
	} {
		lm := s.landmarks(mesh)
		p, err := FitPose(lm, s.w, s.h, mesh)
		require.NoError(t, err)
		require.InEpsilon(t, s.scale, p.Scale, 1e-5)
		for k := range 3 {
			require.InDelta(t, s.t[k], p.Translation[k], 1e-4, "translation[%d]", k)
		}
		// Project reproduces the landmarks.
		for i, v := range mesh.Vertices {
			q := p.Project([3]float64{float64(v[0]), float64(v[1]), float64(v[2])}, s.w, s.h)
			for k := range 3 {
				require.InDelta(t, float64(lm[i][k]), q[k], 1e-2, "vertex %d axis %d", i, k)
			}
		}
	}
}

func TestFitPoseNoise(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	rng := rand.New(rand.NewPCG(1, 2))
	s := synthFace{pitch: 12, yaw: -18, roll: 6, scale: 20, w: 512, h: 512}
	lm := s.landmarks(mesh)
	for i := range lm {
		for k := range 3 {
			lm[i][k] += float32(rng.NormFloat64()) // σ = 1 px on a ~300 px face
		}
	}
	p, err := FitPose(lm, s.w, s.h, mesh)
	require.NoError(t, err)
	require.InDelta(t, s.pitch, p.Pitch, 1.5)
	require.InDelta(t, s.yaw, p.Yaw, 1.5)
	require.InDelta(t, s.roll, p.Roll, 1.5)
	require.InEpsilon(t, s.scale, p.Scale, 0.02)
}

func TestFitPosePlanarLandmarks(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	lm := frontal().landmarks(mesh)
	for i := range lm {
		lm[i][2] = 0 // no depth at all: rank-2 cross-covariance
	}
	p, err := FitPose(lm, 512, 512, mesh)
	require.NoError(t, err)
	requireRotation(t, p.Rotation)
	require.InDelta(t, 0, p.Yaw, 2)
	require.InDelta(t, 0, p.Roll, 2)
}

func TestFitPoseErrors(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	good := frontal().landmarks(mesh)
	mod := func(f func(lm [][3]float32) [][3]float32) [][3]float32 {
		lm := append([][3]float32(nil), good...)
		return f(lm)
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := []struct {
		name string
		lm   [][3]float32
		w, h int
		want error
		code string
	}{
		{"nan", mod(func(lm [][3]float32) [][3]float32 { lm[33][1] = nan; return lm }), 512, 512, ErrInvalidInput, "geometry_invalid_input"},
		{"inf", mod(func(lm [][3]float32) [][3]float32 { lm[400][2] = inf; return lm }), 512, 512, ErrInvalidInput, "geometry_invalid_input"},
		{"too few", good[:467], 512, 512, ErrInvalidInput, "geometry_invalid_input"},
		{"no image", good, 0, 512, ErrInvalidInput, "geometry_invalid_input"},
		{"collapsed", mod(func(lm [][3]float32) [][3]float32 {
			for i := range lm {
				lm[i] = [3]float32{100, 120, 3}
			}
			return lm
		}), 512, 512, ErrDegenerate, "geometry_degenerate"},
		{"colinear", mod(func(lm [][3]float32) [][3]float32 {
			for i := range lm {
				f := float32(i)
				lm[i] = [3]float32{10 + f, 20 + 2*f, -f}
			}
			return lm
		}), 512, 512, ErrDegenerate, "geometry_degenerate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := FitPose(tc.lm, tc.w, tc.h, mesh)
			require.ErrorIs(t, err, tc.want)
			var coded interface{ Code() string }
			require.True(t, errors.As(err, &coded))
			require.Equal(t, tc.code, coded.Code())
		})
	}
	_, err := FitPose(good, 512, 512, nil)
	require.ErrorIs(t, err, ErrInvalidInput)
}

func TestFitPoseIgnoresExtraLandmarks(t *testing.T) {
	t.Parallel()
	mesh := canonical(t)
	s := frontal()
	s.yaw = 25
	lm := append(s.landmarks(mesh), make([][3]float32, 10)...) // 478 with iris points
	p, err := FitPose(lm, s.w, s.h, mesh)
	require.NoError(t, err)
	require.InDelta(t, 25, p.Yaw, 0.5)
}

func TestPoseJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Pose{Pitch: 1, Yaw: 2, Roll: 3, Scale: 4})
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"rotation", "translation", "scale", "pitch", "yaw", "roll"} {
		require.Contains(t, m, k)
	}
	require.InDelta(t, 2.0, m["yaw"], 0)
}

func TestPoseFromSimilarityMatchesFitPose(t *testing.T) {
	mesh := canonical(t)
	s := frontal()
	s.yaw, s.pitch, s.roll = 20, -10, 5
	p, err := FitPose(s.landmarks(mesh), s.w, s.h, mesh)
	require.NoError(t, err)
	tPix := [3]float64{p.Scale*p.Translation[0] + float64(s.w)/2, p.Scale*p.Translation[1] + float64(s.h)/2, p.Scale * p.Translation[2]}
	q := PoseFromSimilarity(p.Rotation, tPix, p.Scale, s.w, s.h)
	require.InDelta(t, p.Yaw, q.Yaw, 1e-9)
	require.InDelta(t, p.Pitch, q.Pitch, 1e-9)
	require.InDelta(t, p.Roll, q.Roll, 1e-9)
	require.InDeltaSlice(t, p.Translation[:], q.Translation[:], 1e-9)
}
