package imagedecode

import "encoding/binary"

// webpBitstreamSize returns the dimensions stored in the first VP8 or VP8L
// bitstream chunk of a WebP file. For an extended (VP8X) file they can differ
// from the canvas size that webp.DecodeConfig reports, and the decoder
// allocates what the bitstream says, so both must pass the limits.
func webpBitstreamSize(data []byte) (w, h int, ok bool) {
	i := 12 // "RIFF" size "WEBP"
	for i+8 <= len(data) {
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			n = len(data) - i - 8 // truncated: look at what is there
		}
		p := data[i+8 : i+8+n]
		switch string(data[i : i+4]) {
		case "VP8 ":
			// 3-byte frame tag, start code 9d 01 2a, 14-bit width and height.
			if len(p) < 10 || p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a {
				return 0, 0, false
			}
			return int(binary.LittleEndian.Uint16(p[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(p[8:]) & 0x3fff), true
		case "VP8L":
			// Signature 0x2f, then width-1 and height-1 in 14 bits each.
			if len(p) < 5 || p[0] != 0x2f {
				return 0, 0, false
			}
			v := binary.LittleEndian.Uint32(p[1:])
			return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, true
		}
		i += 8 + n + n&1
	}
	return 0, 0, false
}
