package fleet

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	half := func() float64 { return 0.5 }
	low := func() float64 { return 0 }
	high := func() float64 { return 0.999999 }
	bad := func() float64 { return 7 }
	for _, tc := range []struct {
		name      string
		attempt   int
		base, max time.Duration
		jitter    float64
		rnd       func() float64
		want      time.Duration
	}{
		{"first attempt is base", 1, time.Second, time.Minute, 0, nil, time.Second},
		{"second doubles", 2, time.Second, time.Minute, 0, nil, 2 * time.Second},
		{"fifth", 5, time.Second, time.Minute, 0, nil, 16 * time.Second},
		{"capped", 10, time.Second, time.Minute, 0, nil, time.Minute},
		{"huge attempt stays capped", 5000, time.Second, time.Minute, 0, nil, time.Minute},
		{"zero attempt counts as one", 0, time.Second, time.Minute, 0, nil, time.Second},
		{"negative attempt counts as one", -3, time.Second, time.Minute, 0, nil, time.Second},
		{"jitter midpoint is exact", 3, time.Second, time.Minute, 0.2, half, 4 * time.Second},
		{"jitter low end", 3, time.Second, time.Minute, 0.25, low, 3 * time.Second},
		{"jitter high end near +25%", 3, time.Second, time.Minute, 0.25, high, 4999998 * time.Microsecond},
		{"jitter never exceeds max", 20, time.Second, time.Minute, 0.5, high, time.Minute},
		{"jitter below max when capped", 20, time.Second, time.Minute, 0.5, low, 30 * time.Second},
		{"jitter clamps to 1", 1, time.Second, time.Minute, 3, low, 0},
		{"out of range rnd uses midpoint", 2, time.Second, time.Minute, 0.5, bad, 2 * time.Second},
		{"zero base", 4, 0, time.Minute, 0, nil, 0},
		{"zero max", 4, time.Second, 0, 0, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Backoff(tc.attempt, tc.base, tc.max, tc.jitter, tc.rnd)
			require.InDelta(t, float64(tc.want), float64(got), float64(time.Microsecond), "got %v", got)
		})
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	base, max := 100*time.Millisecond, 30*time.Second
	for attempt := 1; attempt < 64; attempt++ {
		for range 50 {
			d := Backoff(attempt, base, max, 0.3, rng.Float64)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, max)
			full := min(time.Duration(float64(base)*float64(uint64(1)<<min(attempt-1, 40))), max)
			require.GreaterOrEqual(t, float64(d), 0.7*float64(full)-1)
		}
	}
}

func BenchmarkBackoff(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; b.Loop(); i++ {
		_ = Backoff(i%12+1, time.Second, time.Minute, 0.2, rng.Float64)
	}
}
