package texture

import (
	"hash/adler32"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAdler32Combine(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 5551, 65521, 200000} {
		a := make([]byte, r.IntN(70000))
		b := make([]byte, n)
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		for i := range b {
			b[i] = 0xff - byte(r.IntN(3))
		}
		want := adler32.Checksum(append(append([]byte(nil), a...), b...))
		require.Equal(t, want, adler32Combine(adler32.Checksum(a), adler32.Checksum(b), int64(len(b))), "len %d", n)
	}
}
