package fleet

import (
	"math"
	"time"
)

// Backoff returns how long to wait before delivery attempt+1 of a job whose
// attempt-th delivery failed with a transient error.
//
// The delay doubles per attempt starting at base (attempt 1 → base, 2 → 2·base,
// …), is capped at max, and is then spread by ±jitter (a fraction in [0, 1])
// using rnd, which must return a value in [0, 1). The result never exceeds max
// and is never negative. Backoff is pure: the same inputs give the same output,
// so callers inject rnd (for example rand.Float64, or a fixed value in tests).
// Attempts below 1 count as 1; a nil rnd means no jitter.
func Backoff(attempt int, base, max time.Duration, jitter float64, rnd func() float64) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	if attempt < 1 {
		attempt = 1
	}
	d := float64(base) * math.Pow(2, float64(attempt-1))
	if d > float64(max) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(max)
	}
	jitter = math.Max(0, math.Min(1, jitter))
	if jitter > 0 && rnd != nil {
		r := rnd()
		if r < 0 || r >= 1 || math.IsNaN(r) {
			r = 0.5
		}
		d *= 1 - jitter + 2*jitter*r
	}
	if d > float64(max) {
		d = float64(max)
	}
	if d < 0 {
		d = 0
	}
	return time.Duration(d)
}
