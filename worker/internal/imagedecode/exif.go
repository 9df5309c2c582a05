package imagedecode

import (
	"bytes"
	"encoding/binary"
)

// maxMetadataScan bounds how far the container walkers look for EXIF data,
// so that a hostile file cannot make orientation lookup expensive.
const maxMetadataScan = 1 << 20

// orientationOf returns the EXIF orientation (1..8) recorded in data of the
// given format, or 1 when there is none or it is malformed. Orientation is
// advisory: a broken EXIF block never fails the decode.
func orientationOf(format string, data []byte) int {
	var tiff []byte
	switch format {
	case "jpeg":
		tiff = jpegExif(data)
	case "png":
		tiff = pngExif(data)
	case "webp":
		tiff = webpExif(data)
	}
	return exifOrientation(tiff)
}

// jpegExif returns the TIFF payload of the first APP1 "Exif\0\0" segment, or nil.
func jpegExif(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil
	}
	i := 2
	for i+4 <= len(data) && i < maxMetadataScan {
		if data[i] != 0xFF {
			return nil
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // TEM, RSTn: no length
			i += 2
			continue
		case marker == 0xDA || marker == 0xD9: // SOS, EOI: metadata is over
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// pngExif returns the payload of the eXIf chunk (PNG 1.5 extension), or nil.
func pngExif(data []byte) []byte {
	i := 8 // signature
	for i+12 <= len(data) && i < maxMetadataScan {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if n < 0 || n > len(data)-i-12 {
			return nil
		}
		switch typ {
		case "eXIf":
			return data[i+8 : i+8+n]
		case "IDAT", "IEND": // eXIf must precede IDAT
			return nil
		}
		i += 12 + n
	}
	return nil
}

// webpExif returns the payload of the EXIF chunk of an extended (VP8X) WebP, or nil.
func webpExif(data []byte) []byte {
	i := 12 // "RIFF" size "WEBP"
	for i+8 <= len(data) && i < maxMetadataScan {
		n := int(binary.LittleEndian.Uint32(data[i+4:]))
		if n < 0 || n > len(data)-i-8 {
			return nil
		}
		if string(data[i:i+4]) == "EXIF" {
			p := data[i+8 : i+8+n]
			// Some writers keep the JPEG "Exif\0\0" prefix.
			return bytes.TrimPrefix(p, []byte("Exif\x00\x00"))
		}
		i += 8 + n + n&1 // chunks are padded to even sizes
	}
	return nil
}

// exifOrientation reads tag 0x0112 (Orientation) from IFD0 of a TIFF
// structure. It returns 1 for anything missing, malformed or out of range.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 1
	}
	off := int64(bo.Uint32(tiff[4:]))
	if off < 8 || off+2 > int64(len(tiff)) {
		return 1
	}
	n := int64(bo.Uint16(tiff[off:]))
	entries := off + 2
	for k := int64(0); k < n; k++ {
		e := entries + 12*k
		if e+12 > int64(len(tiff)) {
			return 1
		}
		if bo.Uint16(tiff[e:]) != 0x0112 {
			continue
		}
		typ, count := bo.Uint16(tiff[e+2:]), bo.Uint32(tiff[e+4:])
		if count < 1 {
			return 1
		}
		var v int
		switch typ {
		case 3: // SHORT, left-justified in the value field
			v = int(bo.Uint16(tiff[e+8:]))
		case 4: // LONG (non-standard but seen)
			v = int(bo.Uint32(tiff[e+8:]))
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return v
	}
	return 1
}
