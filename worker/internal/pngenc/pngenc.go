// Package pngenc encodes images as PNG, fast. Rows get the Up filter and are
// deflated at the fastest level by default — on the worker's real textures,
// depth and normal maps the cheapest setting in CPU time; Paeth, Average
// and per-row adaptive filtering save 1–2 % of the bytes for 1.2–4× the CPU,
// level 4 saves 14 % for +28 % (BenchmarkFilters; the table is in MEASURED.md) —
// and horizontal bands of rows are deflated in parallel into one zlib
// stream (each band ends in a sync flush, so the streams concatenate, as
// pigz does), one IDAT chunk per band, with the zlib checksum combined from
// the bands'. Any PNG decoder reads the result. Encoder.Filter and
// Encoder.Level choose others.
//
// It writes the three pixel formats the worker produces, byte for byte as
// image/png would decode them back:
//
//	*image.NRGBA   colour type 6 (RGBA), 8 bits
//	*image.Gray16  colour type 0 (grey), 16 bits
//	*image.Gray    colour type 0 (grey), 8 bits
//
// BenchmarkEncode compares it with image/png at its default level and at
// BestSpeed.
package pngenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"io"
	"runtime"
	"sync"

	flate "github.com/klauspost/compress/flate"
)

var (
	// ErrEmpty is returned for a nil image or one with an empty rectangle:
	// PNG has no zero-sized images.
	ErrEmpty = errors.New("pngenc: empty image")
	// ErrUnsupported is returned for an image type other than *image.NRGBA,
	// *image.Gray16 and *image.Gray.
	ErrUnsupported = errors.New("pngenc: unsupported image type")
	// ErrTooLarge is returned for an image whose width or height exceeds
	// PNG's limit (2³¹−1).
	ErrTooLarge = errors.New("pngenc: image too large")
)

// Encoder encodes PNGs and recycles its compressors and scratch buffers
// between calls. The zero value is ready to use; it is safe for concurrent
// use.
type Encoder struct {
	// Bands is the number of bands to compress in parallel; 0 picks one
	// from GOMAXPROCS and the image size. More bands than rows are
	// clamped to the number of rows.
	Bands int
	// Filter is the row filter; the zero value is DefaultFilter.
	Filter Filter
	// Level is the deflate level, 1 (fastest) .. 9, or -2 for Huffman
	// coding only; 0 is DefaultLevel. Set it before the first Encode.
	Level int

	pool sync.Pool // *band
}

// defaultEncoder backs Encode; it holds only reusable buffers.
var defaultEncoder Encoder

// Encode writes img as a PNG with a shared Encoder.
func Encode(w io.Writer, img image.Image) error { return defaultEncoder.Encode(w, img) }

// Encode writes img as a PNG. It returns an error wrapping ErrEmpty,
// ErrUnsupported or ErrTooLarge for images it cannot write, or w's error.
func (e *Encoder) Encode(w io.Writer, img image.Image) error {
	r, err := rawOf(img)
	if err != nil {
		return err
	}
	nb := e.Bands
	if nb <= 0 {
		nb = autoBands(r.rowLen, r.height)
	}
	return e.encode(w, r, min(nb, r.height))
}

// raw is an image's pixel rows as PNG stores them (before filtering).
type raw struct {
	pix           []byte
	stride        int
	rowLen        int // bytes of pixel data per row
	bpp           int // bytes per pixel
	width, height int
	depth, ctype  byte // IHDR bit depth and colour type
}

func rawOf(img image.Image) (raw, error) {
	var r raw
	var rect image.Rectangle
	switch m := img.(type) {
	case *image.NRGBA:
		if m == nil {
			return r, ErrEmpty
		}
		r = raw{pix: m.Pix, stride: m.Stride, bpp: 4, depth: 8, ctype: 6}
		rect = m.Rect
	case *image.Gray16:
		if m == nil {
			return r, ErrEmpty
		}
		r = raw{pix: m.Pix, stride: m.Stride, bpp: 2, depth: 16, ctype: 0}
		rect = m.Rect
	case *image.Gray:
		if m == nil {
			return r, ErrEmpty
		}
		r = raw{pix: m.Pix, stride: m.Stride, bpp: 1, depth: 8, ctype: 0}
		rect = m.Rect
	case nil:
		return r, ErrEmpty
	default:
		return r, fmt.Errorf("%w: %T", ErrUnsupported, img)
	}
	if rect.Empty() {
		return r, ErrEmpty
	}
	r.width, r.height = rect.Dx(), rect.Dy()
	if int64(r.width) > 1<<31-1 || int64(r.height) > 1<<31-1 {
		return r, fmt.Errorf("%w: %dx%d", ErrTooLarge, r.width, r.height)
	}
	r.rowLen = r.bpp * r.width
	// A sub-image's Pix starts at its first pixel; the last row may end
	// before a full stride.
	if need := (r.height-1)*r.stride + r.rowLen; len(r.pix) < need {
		return r, fmt.Errorf("%w: %d pixel bytes for %dx%d with stride %d", ErrUnsupported, len(r.pix), r.width, r.height, r.stride)
	}
	return r, nil
}

// Band sizing: a band restarts the compressor's window, so tiny bands cost
// ratio for no speed.
const (
	minBandBytes = 128 << 10 // filtered bytes per band, at least
	maxBands     = 32
)

func autoBands(rowLen, height int) int {
	total := (rowLen + 1) * height
	return max(1, min(runtime.GOMAXPROCS(0)*2, maxBands, total/minBandBytes))
}

// maxChunk bounds the data of one IDAT chunk (PNG allows up to 2³¹−1).
const maxChunk = 1 << 30

var pngSig = []byte("\x89PNG\r\n\x1a\n")

// band is the compressed output of a run of rows.
type band struct {
	buf      bytes.Buffer
	filtered []byte
	zeros    []byte    // the row above the first
	trial    [5][]byte // FilterAdaptive's candidate rows
	fw       *flate.Writer
	adler    uint32 // Adler-32 of the band's filtered bytes
	n        int    // filtered bytes
	err      error
}

// DefaultLevel is the deflate level of Level 0, chosen with DefaultFilter
// by BenchmarkFilters.
const DefaultLevel = flate.BestSpeed

func (e *Encoder) getBand() (*band, error) {
	if b, ok := e.pool.Get().(*band); ok {
		b.buf.Reset()
		b.fw.Reset(&b.buf)
		b.err = nil
		return b, nil
	}
	level := e.Level
	if level == 0 {
		level = DefaultLevel
	}
	b := &band{}
	fw, err := flate.NewWriter(&b.buf, level)
	if err != nil {
		return nil, fmt.Errorf("pngenc: level %d: %w", e.Level, err)
	}
	b.fw = fw
	return b, nil
}

func (e *Encoder) encode(w io.Writer, r raw, nb int) error {
	bands := make([]*band, nb)
	defer func() {
		for _, b := range bands {
			if b != nil {
				e.pool.Put(b)
			}
		}
	}()
	for k := range bands {
		b, err := e.getBand()
		if err != nil {
			return err
		}
		bands[k] = b
	}
	f := e.Filter
	if f == FilterDefault {
		f = DefaultFilter
	}
	var wg sync.WaitGroup
	for k, b := range bands {
		y0, y1 := r.height*k/nb, r.height*(k+1)/nb
		last := k == nb-1
		if last {
			b.compress(r, f, y0, y1, last) // this goroutine does its share
		} else {
			wg.Go(func() { b.compress(r, f, y0, y1, last) })
		}
	}
	wg.Wait()

	var hdr [13]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(r.width))
	binary.BigEndian.PutUint32(hdr[4:], uint32(r.height))
	hdr[8], hdr[9] = r.depth, r.ctype // compression, filter, interlace: 0
	cw := chunkWriter{w: w}
	cw.write(pngSig)
	cw.chunk("IHDR", nil, hdr[:], nil)
	adler := uint32(1)
	for k, b := range bands {
		if b.err != nil {
			return fmt.Errorf("pngenc: deflate: %w", b.err)
		}
		adler = adler32Combine(adler, b.adler, int64(b.n))
		var pre, post []byte
		if k == 0 {
			pre = zlibHeader(e.Level) // deflate, 32K window
		}
		if k == nb-1 {
			post = binary.BigEndian.AppendUint32(nil, adler)
		}
		data := b.buf.Bytes()
		for len(data) > maxChunk { // only for bands of hundreds of MiB
			cw.chunk("IDAT", pre, data[:maxChunk], nil)
			pre, data = nil, data[maxChunk:]
		}
		cw.chunk("IDAT", pre, data, post)
	}
	cw.chunk("IEND", nil, nil, nil)
	return cw.err
}

// chunkBytes is about how many filtered bytes compress prepares at a time:
// small enough that filtering, checksumming and deflating each piece find
// it in cache.
const chunkBytes = 32 << 10

// compress filters rows [y0, y1) with f and deflates them, a few rows at a
// time; the last band closes the deflate stream, the others end in a sync
// flush.
func (b *band) compress(r raw, f Filter, y0, y1 int, last bool) {
	rowLen := r.rowLen + 1
	rows := max(1, min(y1-y0, chunkBytes/rowLen))
	if cap(b.filtered) < rows*rowLen {
		b.filtered = make([]byte, rows*rowLen)
	}
	b.adler, b.n = 1, (y1-y0)*rowLen
	for c0 := y0; c0 < y1; c0 += rows {
		c1 := min(c0+rows, y1)
		out := b.filtered[:(c1-c0)*rowLen]
		for y := c0; y < c1; y++ {
			dst := out[(y-c0)*rowLen : (y-c0+1)*rowLen]
			cur := r.pix[y*r.stride:][:r.rowLen]
			if y == 0 && (f == FilterUp || f == FilterNone) {
				dst[0] = 0 // None: Up of a row under zeros is the row itself
				copy(dst[1:], cur)
				continue
			}
			var prev []byte
			if y == 0 {
				if len(b.zeros) < r.rowLen {
					b.zeros = make([]byte, r.rowLen)
				}
				prev = b.zeros[:r.rowLen]
			} else {
				prev = r.pix[(y-1)*r.stride:][:r.rowLen]
			}
			if f == FilterAdaptive {
				b.adaptive(dst, cur, prev, r.bpp)
				continue
			}
			dst[0] = f.pngType()
			filterRow(f, dst[1:], cur, prev, r.bpp)
		}
		b.adler = adler32Update(b.adler, out)
		if _, err := b.fw.Write(out); err != nil {
			b.err = err
			return
		}
	}
	if last {
		b.err = b.fw.Close()
	} else {
		b.err = b.fw.Flush()
	}
}

// zlibHeader is the zlib stream header for a deflate level: CMF 0x78
// (deflate, 32K window), FLG with the level class and the check bits.
func zlibHeader(level int) []byte {
	switch {
	case level >= 7:
		return []byte{0x78, 0xda}
	case level == 6 || level == -1:
		return []byte{0x78, 0x9c}
	case level >= 2:
		return []byte{0x78, 0x5e}
	}
	return []byte{0x78, 0x01} // fastest (1, Huffman only, default)
}

// adaptive writes the filter byte and the row of the fixed filter whose
// output has the smallest sumAbs to dst.
func (b *band) adaptive(dst, cur, prev []byte, bpp int) {
	best, bestCost := 0, -1
	for k, f := range fixedFilters {
		if len(b.trial[k]) < len(cur) {
			b.trial[k] = make([]byte, len(cur))
		}
		t := b.trial[k][:len(cur)]
		filterRow(f, t, cur, prev, bpp)
		if c := sumAbs(t); bestCost < 0 || c < bestCost {
			best, bestCost = k, c
		}
	}
	dst[0] = fixedFilters[best].pngType()
	copy(dst[1:], b.trial[best][:len(cur)])
}

// upFilter sets dst[i] = cur[i] − prev[i] (mod 256), eight bytes at a time:
// the high bit of each byte is handled apart so that no borrow crosses a
// byte boundary.
func upFilter(dst, cur, prev []byte) {
	const hi = 0x8080808080808080
	n := len(dst) &^ 7
	cur, prev = cur[:len(dst)], prev[:len(dst)]
	for i := 0; i < n; i += 8 {
		a := binary.LittleEndian.Uint64(cur[i:])
		p := binary.LittleEndian.Uint64(prev[i:])
		binary.LittleEndian.PutUint64(dst[i:], ((a|hi)-(p&^hi))^((a^^p)&hi))
	}
	for i := n; i < len(dst); i++ {
		dst[i] = cur[i] - prev[i]
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

// chunk writes one chunk whose data is a‖b‖d without copying them together.
func (c *chunkWriter) chunk(typ string, a, b, d []byte) {
	var head [8]byte
	binary.BigEndian.PutUint32(head[:4], uint32(len(a)+len(b)+len(d)))
	copy(head[4:], typ)
	crc := crc32.Update(0, crc32.IEEETable, head[4:])
	crc = crc32.Update(crc, crc32.IEEETable, a)
	crc = crc32.Update(crc, crc32.IEEETable, b)
	crc = crc32.Update(crc, crc32.IEEETable, d)
	c.write(head[:])
	c.write(a)
	c.write(b)
	c.write(d)
	c.write(binary.BigEndian.AppendUint32(nil, crc))
}
