package pngenc

// Seams for the tests in package pngenc_test.
var (
	UpFilter       = upFilter
	Adler32Combine = adler32Combine
	AutoBands      = autoBands
)

// Adler32 is the package's Adler-32 of p.
func Adler32(p []byte) uint32 { return adler32Update(1, p) }
