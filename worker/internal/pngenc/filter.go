package pngenc

// Filter selects the PNG row filter (PNG spec §9). The Encoder's zero value
// uses DefaultFilter, chosen by BenchmarkFilters on the worker's real
// outputs (see the package comment).
type Filter uint8

// Filters. FilterAdaptive picks, per row, the filter whose output has the
// smallest sum of absolute (signed) bytes — libpng's heuristic.
const (
	FilterDefault Filter = iota // DefaultFilter
	FilterNone
	FilterSub
	FilterUp
	FilterAverage
	FilterPaeth
	FilterAdaptive
)

// DefaultFilter is the filter of FilterDefault.
const DefaultFilter = FilterUp

// String returns the filter's name ("none", "sub", …).
func (f Filter) String() string {
	switch f {
	case FilterDefault:
		return "default"
	case FilterNone:
		return "none"
	case FilterSub:
		return "sub"
	case FilterUp:
		return "up"
	case FilterAverage:
		return "average"
	case FilterPaeth:
		return "paeth"
	case FilterAdaptive:
		return "adaptive"
	}
	return "unknown"
}

// pngType is the filter-type byte of a fixed filter.
func (f Filter) pngType() byte {
	switch f {
	case FilterSub:
		return 1
	case FilterUp:
		return 2
	case FilterAverage:
		return 3
	case FilterPaeth:
		return 4
	}
	return 0
}

// filterRow writes cur filtered with f (a fixed filter) to dst (len(cur)
// bytes) given the previous row prev (all zeros for the first row) and bpp
// bytes per pixel.
func filterRow(f Filter, dst, cur, prev []byte, bpp int) {
	switch f {
	case FilterNone:
		copy(dst, cur)
	case FilterSub:
		copy(dst[:bpp], cur[:bpp])
		for i := bpp; i < len(cur); i++ {
			dst[i] = cur[i] - cur[i-bpp]
		}
	case FilterUp:
		upFilter(dst, cur, prev)
	case FilterAverage:
		for i := range bpp {
			dst[i] = cur[i] - prev[i]/2
		}
		for i := bpp; i < len(cur); i++ {
			dst[i] = cur[i] - uint8((int(cur[i-bpp])+int(prev[i]))/2)
		}
	case FilterPaeth:
		for i := range bpp { // a = c = 0: the predictor is b
			dst[i] = cur[i] - prev[i]
		}
		for i := bpp; i < len(cur); i++ {
			dst[i] = cur[i] - paeth(cur[i-bpp], prev[i], prev[i-bpp])
		}
	}
}

// paeth is the Paeth predictor of a (left), b (up) and c (up-left).
func paeth(a, b, c uint8) uint8 {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := absInt(p-int(a)), absInt(p-int(b)), absInt(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// sumAbs is the adaptive heuristic's cost of a filtered row.
func sumAbs(p []byte) int {
	s := 0
	for _, v := range p {
		s += absInt(int(int8(v)))
	}
	return s
}

// fixedFilters are the candidates FilterAdaptive tries, in PNG type order.
var fixedFilters = [...]Filter{FilterNone, FilterSub, FilterUp, FilterAverage, FilterPaeth}
