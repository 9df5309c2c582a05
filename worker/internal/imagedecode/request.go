package imagedecode

import (
	"image"
	"slices"
)

// Scale is a decode scaling factor Num/Denom (libjpeg-turbo's DCT-domain
// scaling: 1/8 decodes only the DC coefficient of each block). A w-pixel
// side comes out ceil(w·Num/Denom) pixels long. The zero Scale means 1.
type Scale struct{ Num, Denom int }

// Factor is Num/Denom as a number (1 for the zero Scale).
func (s Scale) Factor() float64 {
	if s.Num <= 0 || s.Denom <= 0 {
		return 1
	}
	return float64(s.Num) / float64(s.Denom)
}

// of is the scaled length of an n-pixel side (TJSCALED).
func (s Scale) of(n int) int {
	if s.Num <= 0 || s.Denom <= 0 {
		return n
	}
	return (n*s.Num + s.Denom - 1) / s.Denom
}

func (s Scale) supported() bool { return slices.Contains(jpegScales(), s) }

// JPEGScales lists the factors JPEG decoding supports, smallest first: with
// libjpeg-turbo (tjGetScalingFactors) 1/8, 1/4, 3/8, 1/2, 5/8, 3/4, 7/8, 1
// and up to 2; with image/jpeg only 1. Other formats always decode at 1.
func JPEGScales() []Scale { return slices.Clone(jpegScales()) }

func sortScales(s []Scale) []Scale {
	slices.SortFunc(s, func(a, b Scale) int { return a.Num*b.Denom - b.Num*a.Denom })
	return slices.CompactFunc(s, func(a, b Scale) bool { return a.Num*b.Denom == b.Num*a.Denom })
}

// Request asks DecodeRequest for less than the whole picture at full size.
// The zero Request is the whole picture, as Decode returns it.
type Request struct {
	// Scale is one of JPEGScales; the zero value (or an unsupported factor,
	// or a format without DCT scaling) decodes at 1.
	Scale Scale
	// Region is the part wanted, in pixels of the whole upright picture;
	// empty means all of it. JPEG only (others decode whole): only that
	// part is transformed and upsampled (the rows above it are entropy-decoded
	// only, the rows below not read at all, so a region costs a fraction of
	// a whole decode), rounded outward to whole scaled pixels and, on the
	// file's left side, to an iMCU boundary (8 or 16 pixels at scale 1), so
	// the result covers at least Region. Within a few pixels of a cut (not
	// the picture's own edge) chroma upsampling may differ from a whole
	// decode's by a few levels; one MCU in the pixels are identical.
	Region image.Rectangle
}

// Header is what DecodeHeader reads without decoding pixels.
type Header struct {
	Format      string
	Width       int // upright (orientation applied), like Image
	Height      int
	Orientation int
}

// DecodeHeader checks data as Decode does before decoding pixels (byte
// count, format, the header's dimensions against lim) and returns the
// format, the upright size and the EXIF orientation.
func DecodeHeader(data []byte, lim Limits) (Header, error) {
	d, err := probe(data, lim.withDefaults())
	if err != nil {
		return Header{}, err
	}
	w, h := d.cfg.Width, d.cfg.Height
	if d.orientation >= 5 {
		w, h = h, w
	}
	return Header{Format: d.format, Width: w, Height: h, Orientation: d.orientation}, nil
}

// ToFull maps a point in img's continuous pixel coordinates (pixel (i, j)
// covers [i, i+1) × [j, j+1)) to the whole upright picture's.
func (img *Image) ToFull(x, y float32) (float32, float32) {
	k := 1 / img.Scale.Factor()
	return float32(img.Origin[0] + float64(x)*k), float32(img.Origin[1] + float64(y)*k)
}

// FromFull is the inverse of ToFull: a point of the whole upright picture
// in img's continuous pixel coordinates.
func (img *Image) FromFull(x, y float32) (float32, float32) {
	k := img.Scale.Factor()
	return float32((float64(x) - img.Origin[0]) * k), float32((float64(y) - img.Origin[1]) * k)
}

// Reduced reports whether img is less than the whole picture at full size.
func (img *Image) Reduced() bool {
	return img.Scale.Factor() != 1 || img.Origin != [2]float64{} || img.Rect.Size() != img.Full
}

// toStored maps a rectangle of the upright picture (full upright size uw×uh)
// to the file's stored pixels under EXIF orientation o (storedPoint).
func toStored(r image.Rectangle, o, uw, uh int) image.Rectangle {
	x0, y0 := storedPoint(o, uw, uh, float64(r.Min.X), float64(r.Min.Y))
	x1, y1 := storedPoint(o, uw, uh, float64(r.Max.X), float64(r.Max.Y))
	return image.Rect(int(x0), int(y0), int(x1), int(y1)) // Rect sorts the corners
}

// uprightOrigin is the top-left corner, in upright pixels, of the stored
// continuous rectangle [x0, x0+ew) × [y0, y0+eh) of a sw×sh file under
// orientation o: where the decoded and oriented region's (0, 0) lies.
func uprightOrigin(x0, y0, ew, eh float64, o, sw, sh int) [2]float64 {
	ax, ay := uprightPoint(o, sw, sh, x0, y0)
	bx, by := uprightPoint(o, sw, sh, x0+ew, y0+eh)
	return [2]float64{min(ax, bx), min(ay, by)}
}
