package imageenc

// DecodeWebP is libwebp's decoder, the reference the tests measure WebP
// with (Go's x/image/webp converts the colour with JPEG's full-range
// YCbCr, not VP8's studio range, and would make every file look worse).
var DecodeWebP = decodeWebP
