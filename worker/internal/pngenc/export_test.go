package pngenc

// Seams for the tests in package pngenc_test.
var (
	UpFilter       = upFilter
	Adler32Combine = adler32Combine
	AutoBands      = autoBands
)
