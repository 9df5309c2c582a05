package texture

// Seams for the benchmarks in package texture_test.
var (
	UnwrapWorkers  = unwrap    // Unwrap on a given number of goroutines
	EncodePNGBands = encodePNG // EncodePNG with a given number of bands
)
