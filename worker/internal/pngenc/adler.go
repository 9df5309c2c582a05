package pngenc

import "encoding/binary"

// adlerMod is Adler-32's modulus.
const adlerMod = 65521

// adlerBlock bounds the bytes summed between reductions: with s1 < 2³² and
// bytes ≤ 255, s2 (uint64) grows by at most 2³²·n + 255·n²/2, far below
// 2⁶⁴ for n = 1 MiB.
const adlerBlock = 1 << 20

// adler32Update returns the Adler-32 of the data whose Adler-32 is adler,
// followed by p. It is hash/adler32's arithmetic eight bytes at a time, with
// 64-bit sums reduced once per MiB, and all-zero words (background in depth
// and normal maps) cost one multiply-add.
func adler32Update(adler uint32, p []byte) uint32 {
	s1, s2 := uint64(adler&0xffff), uint64(adler>>16)
	for len(p) > 0 {
		q := p[:min(len(p), adlerBlock)]
		p = p[len(q):]
		n := len(q) &^ 7
		for i := 0; i < n; i += 8 {
			w := binary.LittleEndian.Uint64(q[i:])
			if w == 0 {
				s2 += 8 * s1
				continue
			}
			b0, b1, b2, b3 := w&0xff, w>>8&0xff, w>>16&0xff, w>>24&0xff
			b4, b5, b6, b7 := w>>32&0xff, w>>40&0xff, w>>48&0xff, w>>56
			s2 += 8*s1 + 8*b0 + 7*b1 + 6*b2 + 5*b3 + 4*b4 + 3*b5 + 2*b6 + b7
			s1 += b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7
		}
		for _, b := range q[n:] {
			s1 += uint64(b)
			s2 += s1
		}
		s1 %= adlerMod
		s2 %= adlerMod
	}
	return uint32(s2<<16 | s1)
}
