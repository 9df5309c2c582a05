package client

import (
	"bytes"
	"net/http"
	"path"
	"strings"
)

// SniffImage returns the content type of an image from its first bytes:
// image/jpeg, image/png or image/webp, or "" for anything else.
func SniffImage(head []byte) string {
	if len(head) >= 12 && bytes.Equal(head[:4], []byte("RIFF")) && bytes.Equal(head[8:12], []byte("WEBP")) {
		return "image/webp"
	}
	switch ct := http.DetectContentType(head); ct {
	case "image/jpeg", "image/png", "image/webp":
		return ct
	}
	return ""
}

// extension returns the file extension used for a sniffed content type.
func extension(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	}
	return ""
}

// cleanName makes a safe object name from a client-supplied file name: the
// base name only, characters outside [A-Za-z0-9._-] replaced by '_', at most
// 100 bytes, with the sniffed extension; "image" + extension when nothing is
// left.
func cleanName(filename, contentType string) string {
	base := path.Base(strings.ReplaceAll(filename, "\\", "/"))
	base = strings.TrimSuffix(base, path.Ext(base))
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "._")
	if len(name) > 100 {
		name = name[:100]
	}
	if name == "" {
		name = "image"
	}
	return name + extension(contentType)
}
