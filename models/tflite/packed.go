package tflite

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
)

// packedEntry matches one file of an Emscripten file packager table, as in
// MediaPipe's *_packed_assets_loader.js:
// {"filename": "/third_party/…/face_landmark.tflite", "start": 2495952, "end": 3737848}.
var packedEntry = regexp.MustCompile(`"filename":\s*"([^"]+)",\s*"start":\s*(\d+),\s*"end":\s*(\d+)`)

// FromPackedAssets returns the file whose base name is name from an
// Emscripten packed-assets bundle (the loader script and its .data file),
// the way MediaPipe's JS solutions ship their .tflite models.
func FromPackedAssets(loader, data []byte, name string) ([]byte, error) {
	var found []byte
	n := 0
	for _, m := range packedEntry.FindAllSubmatch(loader, -1) {
		if path.Base(string(m[1])) != name {
			continue
		}
		start, err1 := strconv.Atoi(string(m[2]))
		end, err2 := strconv.Atoi(string(m[3]))
		if err1 != nil || err2 != nil || start < 0 || end < start || end > len(data) {
			return nil, fmt.Errorf("%w: packed entry %s [%s, %s) for %d bytes of data", ErrFormat, m[1], m[2], m[3], len(data))
		}
		found = data[start:end:end]
		n++
	}
	switch n {
	case 0:
		return nil, fmt.Errorf("%w: %s is not in the packed assets", ErrFormat, name)
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("%w: %s is in the packed assets %d times", ErrFormat, name, n)
}
