package texture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	flate "github.com/klauspost/compress/flate"
	"hash/adler32"
	"hash/crc32"
	"image"
	"io"
	"runtime"
	"sync"
)

// EncodePNG writes img as an 8-bit RGBA PNG, fast: rows get the Up filter
// (cheap, and good on textures whose rows resemble their neighbours), and
// horizontal bands of rows are deflated in parallel at the fastest level
// into one zlib stream (each band ends in a sync flush, so the streams
// concatenate, as pigz does), one IDAT chunk per band. Any PNG decoder reads
// the result. BenchmarkEncodePNG1024 compares it with image/png.
func EncodePNG(w io.Writer, img *image.NRGBA) error {
	if img == nil || img.Rect.Empty() {
		return fmt.Errorf("%w: empty image", ErrInvalidInput)
	}
	return encodePNG(w, img, pngBands(img.Rect.Dy()))
}

// pngBandRows is the fewest rows per band: a band restarts the compressor's
// window, so tiny bands cost ratio for no speed.
const pngBandRows = 64

func pngBands(h int) int {
	return max(1, min(runtime.GOMAXPROCS(0)*2, h/pngBandRows, 32))
}

var pngSig = []byte("\x89PNG\r\n\x1a\n")

// band is the compressed output of a run of rows.
type band struct {
	buf      bytes.Buffer
	filtered []byte
	fw       *flate.Writer
	adler    uint32
	n        int // uncompressed bytes
	err      error
}

var bandPool = sync.Pool{New: func() any {
	b := &band{}
	b.fw, _ = flate.NewWriter(&b.buf, flate.BestSpeed) // error only for bad levels
	return b
}}

func encodePNG(w io.Writer, img *image.NRGBA, nb int) error {
	width, height := img.Rect.Dx(), img.Rect.Dy()
	rowLen := 1 + 4*width
	bands := make([]*band, nb)
	var wg sync.WaitGroup
	for k := range nb {
		y0, y1 := height*k/nb, height*(k+1)/nb
		b := bandPool.Get().(*band)
		b.buf.Reset()
		b.fw.Reset(&b.buf)
		bands[k] = b
		run := func() { b.compress(img, y0, y1, rowLen, k == nb-1) }
		if k == nb-1 {
			run()
		} else {
			wg.Go(run)
		}
	}
	wg.Wait()
	defer func() {
		for _, b := range bands {
			bandPool.Put(b)
		}
	}()

	var hdr [13]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(width))
	binary.BigEndian.PutUint32(hdr[4:], uint32(height))
	hdr[8], hdr[9] = 8, 6 // 8-bit RGBA, no interlace
	cw := chunkWriter{w: w}
	cw.write(pngSig)
	cw.chunk("IHDR", hdr[:], nil)
	adler := uint32(1)
	for k, b := range bands {
		if b.err != nil {
			return b.err
		}
		adler = adler32Combine(adler, b.adler, int64(b.n))
		var pre, post []byte
		if k == 0 {
			pre = []byte{0x78, 0x01} // zlib: deflate, 32K window, fastest
		}
		if k == nb-1 {
			post = binary.BigEndian.AppendUint32(nil, adler)
		}
		cw.chunk3("IDAT", pre, b.buf.Bytes(), post)
	}
	cw.chunk("IEND", nil, nil)
	return cw.err
}

// compress filters rows [y0, y1) with the Up filter and deflates them.
func (b *band) compress(img *image.NRGBA, y0, y1, rowLen int, last bool) {
	n := (y1 - y0) * rowLen
	if cap(b.filtered) < n {
		b.filtered = make([]byte, n)
	}
	f := b.filtered[:n]
	w4 := rowLen - 1
	for y := y0; y < y1; y++ {
		dst := f[(y-y0)*rowLen : (y-y0+1)*rowLen]
		cur := img.Pix[y*img.Stride:][:w4]
		if y == 0 {
			dst[0] = 0 // None: the row above is all zeros anyway
			copy(dst[1:], cur)
			continue
		}
		dst[0] = 2 // Up
		prev := img.Pix[(y-1)*img.Stride:][:w4]
		d := dst[1:]
		for i := range d {
			d[i] = cur[i] - prev[i]
		}
	}
	b.n = n
	b.adler = adler32.Checksum(f)
	if _, err := b.fw.Write(f); err != nil {
		b.err = err
		return
	}
	if last {
		b.err = b.fw.Close()
	} else {
		b.err = b.fw.Flush()
	}
}

// adler32Combine returns the Adler-32 of A‖B from adler32(A), adler32(B)
// and len(B) (zlib's adler32_combine).
func adler32Combine(a1, a2 uint32, len2 int64) uint32 {
	const base = 65521
	rem := uint64(len2 % base)
	s1 := uint64(a1 & 0xffff)
	s2 := rem * s1 % base
	s1 += uint64(a2&0xffff) + base - 1
	s2 += uint64(a1>>16) + uint64(a2>>16) + base - rem
	s1 %= base
	s2 %= base
	return uint32(s2<<16 | s1)
}

// chunkWriter writes PNG chunks and keeps the first error.
type chunkWriter struct {
	w   io.Writer
	err error
}

func (c *chunkWriter) write(p []byte) {
	if c.err == nil && len(p) > 0 {
		_, c.err = c.w.Write(p)
	}
}

func (c *chunkWriter) chunk(typ string, data, extra []byte) { c.chunk3(typ, nil, data, extra) }

// chunk3 writes one chunk whose data is a‖b‖d without copying them together.
func (c *chunkWriter) chunk3(typ string, a, b, d []byte) {
	var head [8]byte
	binary.BigEndian.PutUint32(head[:4], uint32(len(a)+len(b)+len(d)))
	copy(head[4:], typ)
	crc := crc32.NewIEEE()
	crc.Write(head[4:])
	crc.Write(a)
	crc.Write(b)
	crc.Write(d)
	c.write(head[:])
	c.write(a)
	c.write(b)
	c.write(d)
	c.write(binary.BigEndian.AppendUint32(nil, crc.Sum32()))
}
