package client

import (
	"bytes"
	"net/http"
	"path"
	"strings"

	"github.com/facefleet/facefleet/shared/storage"
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

// cleanName makes a safe object name from a client-supplied file name:
// storage.SanitizeFilename of it, with its extension replaced by the one of
// the sniffed content type.
func cleanName(filename, contentType string) string {
	base := storage.SanitizeFilename(filename)
	if b := strings.TrimSuffix(base, path.Ext(base)); b != "" {
		base = b
	}
	return base + extension(contentType)
}
