package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPrefixWriter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	var mu sync.Mutex
	a := &prefixWriter{prefix: []byte("[worker] "), w: &out, mu: &mu}
	b := &prefixWriter{prefix: []byte("[producer] "), w: &out, mu: &mu}
	for _, s := range []string{"time=1 msg=", "hello\nsecond li", "ne\n"} {
		_, err := a.Write([]byte(s))
		require.NoError(t, err)
	}
	_, err := b.Write([]byte("api up\n"))
	require.NoError(t, err)
	_, err = a.Write([]byte("no newline at exit"))
	require.NoError(t, err)
	require.Equal(t, "[worker] time=1 msg=hello\n[worker] second line\n[producer] api up\n", out.String())
	a.flush()
	a.flush()
	require.Equal(t, "[worker] time=1 msg=hello\n[worker] second line\n[producer] api up\n[worker] no newline at exit\n", out.String())
}

// FuzzPrefixWriter: however the output is chunked, every line comes out
// whole, in order, with the prefix.
func FuzzPrefixWriter(f *testing.F) {
	f.Add("a\nbb\n\nccc", uint8(1))
	f.Add("", uint8(3))
	f.Add("\n\n\n", uint8(0))
	f.Fuzz(func(t *testing.T, text string, chunk uint8) {
		var out bytes.Buffer
		var mu sync.Mutex
		p := &prefixWriter{prefix: []byte("> "), w: &out, mu: &mu}
		size := int(chunk%16) + 1
		for i := 0; i < len(text); i += size {
			n, err := p.Write([]byte(text[i:min(i+size, len(text))]))
			require.NoError(t, err)
			require.Equal(t, min(size, len(text)-i), n)
		}
		p.flush()
		var want strings.Builder
		if text != "" {
			lines := strings.SplitAfter(text, "\n")
			for _, l := range lines {
				if l == "" {
					continue
				}
				want.WriteString("> " + strings.TrimSuffix(l, "\n") + "\n")
			}
		}
		require.Equal(t, want.String(), out.String())
	})
}

func BenchmarkPrefixWriter(b *testing.B) {
	var mu sync.Mutex
	line := []byte("time=2026-11-29T00:00:00Z level=INFO msg=\"job succeeded\" job_id=0193 device=cpu total_ms=123.4\n")
	p := &prefixWriter{prefix: []byte("[worker] "), w: discard{}, mu: &mu}
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		_, _ = p.Write(line)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	require.Zero(t, percentile(nil, 50))
	one := ms(7)
	require.Equal(t, 7*time.Millisecond, percentile(one, 50))
	require.Equal(t, 7*time.Millisecond, percentile(one, 99))
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	h := ms(hundred...)
	require.Equal(t, 50*time.Millisecond, percentile(h, 50))
	require.Equal(t, 95*time.Millisecond, percentile(h, 95))
	require.Equal(t, 99*time.Millisecond, percentile(h, 99))
	require.Equal(t, 1*time.Millisecond, percentile(h, 0))
	four := ms(10, 20, 30, 40)
	require.Equal(t, 20*time.Millisecond, percentile(four, 50))
	require.Equal(t, 40*time.Millisecond, percentile(four, 95))
}

func TestFormatTimings(t *testing.T) {
	t.Parallel()
	got := formatTimings(map[string]float64{"upload": 5, "decode": 1.25, "zeta": 2, "detect": 3, "alpha": 1})
	require.Equal(t, "decode 1.2, detect 3.0, upload 5.0, alpha 1.0, zeta 2.0 ms", got)
}
