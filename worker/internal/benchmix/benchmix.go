// Package benchmix builds the 20-photo mix that `worker bench` measures and
// that the MediaPipe peer comparison runs on: the repository's test photos
// as they are, plus variants made from them that exercise the other input
// paths a user sends — PNG files, mirrored re-encodes and phone-sized
// (9-megapixel) JPEGs. Build is deterministic: the same sources give the
// same bytes, so a mix written with Write can be handed to another tool and
// compared with the one measured in memory.
package benchmix

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Size is the number of photos Build returns when it has the nine
// distinct test photos of the repository.
const Size = 20

// Sources are the repository's directories of test photos, relative to the
// repository root: the worker's three and the engine's copy of the nine
// oracle photos (../shared/testdata/faces).
var Sources = []string{"worker/testdata/images", "worker/internal/engine/testdata"}

// SourceDirs are Sources under the nearest directory at or above the
// working directory that holds them (the repository root, from wherever in
// the repository `worker bench` runs).
func SourceDirs() ([]string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, Sources[len(Sources)-1])); err == nil && st.IsDir() {
			out := make([]string, len(Sources))
			for i, s := range Sources {
				out[i] = filepath.Join(dir, s)
			}
			return out, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return nil, fmt.Errorf("benchmix: no %s at or above the working directory: run from the repository", Sources[len(Sources)-1])
		}
		dir = up
	}
}

// JPEGQuality is the quality of every re-encoded JPEG of the mix.
const JPEGQuality = 92

// PhoneScale is the upscaling factor of the phone-sized variants: the
// 1024² test photos become 3072² (9.4 MP), the size of a phone photo.
const PhoneScale = 3

// Photo is one file of the mix.
type Photo struct {
	Name string // file name, with the extension of its format
	Data []byte
}

// How the variants are made, by position in the sorted list of distinct
// source photos: PNG re-encodes, mirrored JPEGs and phone-sized JPEGs (of
// the 1024-pixel sources only).
var (
	pngOf    = []int{0, 3, 4, 6}
	mirrorOf = []int{1, 3, 5, 7, 8}
	phoneOf  = 2 // how many phone-sized variants
)

// Build reads the .jpg files of dirs (the same bytes once, by content;
// missing dirs are skipped), sorts them by name and returns them followed by
// their variants. With the repository's nine photos that is Size photos; with
// fewer sources, the variants that exist.
func Build(dirs ...string) ([]Photo, error) {
	src, err := readSources(dirs)
	if err != nil {
		return nil, err
	}
	mix := slices.Clone(src)
	decoded := make([]image.Image, len(src))
	decode := func(i int) (image.Image, error) {
		if decoded[i] == nil {
			img, _, err := image.Decode(bytes.NewReader(src[i].Data))
			if err != nil {
				return nil, fmt.Errorf("benchmix: %s: %w", src[i].Name, err)
			}
			decoded[i] = img
		}
		return decoded[i], nil
	}
	for _, i := range pngOf {
		if i >= len(src) {
			continue
		}
		img, err := decode(i)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestSpeed}
		// From NRGBA: 8-bit RGB, as photos are (image/png writes a
		// decoded JPEG's YCbCr as 16-bit).
		if err := enc.Encode(&b, toNRGBA(img)); err != nil {
			return nil, err
		}
		mix = append(mix, Photo{stem(src[i].Name) + "-png.png", b.Bytes()}) // own stem: tools key outputs by stem
	}
	for _, i := range mirrorOf {
		if i >= len(src) {
			continue
		}
		img, err := decode(i)
		if err != nil {
			return nil, err
		}
		b, err := encodeJPEG(mirror(img))
		if err != nil {
			return nil, err
		}
		mix = append(mix, Photo{stem(src[i].Name) + "-mirrored.jpg", b})
	}
	made := 0
	for i := range src {
		if made == phoneOf {
			break
		}
		img, err := decode(i)
		if err != nil {
			return nil, err
		}
		if r := img.Bounds(); r.Dx() != 1024 || r.Dy() != 1024 {
			continue
		}
		b, err := encodeJPEG(upscale(img, PhoneScale))
		if err != nil {
			return nil, err
		}
		mix = append(mix, Photo{fmt.Sprintf("%s-x%d.jpg", stem(src[i].Name), PhoneScale), b})
		made++
	}
	return mix, nil
}

// Write writes the photos into dir (created if missing).
func Write(dir string, photos []Photo) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range photos {
		if err := os.WriteFile(filepath.Join(dir, p.Name), p.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func readSources(dirs []string) ([]Photo, error) {
	seen := map[[32]byte]bool{}
	var out []Photo
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() || !strings.EqualFold(filepath.Ext(e.Name()), ".jpg") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(d, e.Name()))
			if err != nil {
				return nil, err
			}
			h := sha256.Sum256(b)
			if seen[h] {
				continue
			}
			seen[h] = true
			out = append(out, Photo{e.Name(), b})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("benchmix: no .jpg photos in %s", strings.Join(dirs, ", "))
	}
	slices.SortFunc(out, func(a, b Photo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func stem(name string) string { return strings.TrimSuffix(name, filepath.Ext(name)) }

func encodeJPEG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: JPEGQuality}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// toNRGBA converts img to NRGBA with its origin at (0, 0).
func toNRGBA(img image.Image) *image.NRGBA {
	r := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Rect, img, r.Min, draw.Src)
	return out
}

// mirror flips img left to right.
func mirror(img image.Image) *image.NRGBA {
	src := toNRGBA(img)
	w := src.Rect.Dx()
	out := image.NewNRGBA(src.Rect)
	for y := range src.Rect.Dy() {
		s, d := src.Pix[y*src.Stride:], out.Pix[y*out.Stride:]
		for x := range w {
			copy(d[4*(w-1-x):4*(w-x)], s[4*x:4*x+4])
		}
	}
	return out
}

// upscale enlarges img k times, bilinear on pixel centres.
func upscale(img image.Image, k int) *image.NRGBA {
	src := toNRGBA(img)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w*k, h*k))
	for y := range h * k {
		fy := (float64(y)+0.5)/float64(k) - 0.5
		y0 := max(0, min(h-1, int(fy)))
		y1 := min(h-1, y0+1)
		ty := min(1, max(0, fy-float64(y0)))
		for x := range w * k {
			fx := (float64(x)+0.5)/float64(k) - 0.5
			x0 := max(0, min(w-1, int(fx)))
			x1 := min(w-1, x0+1)
			tx := min(1, max(0, fx-float64(x0)))
			for c := range 3 {
				p00 := float64(src.Pix[y0*src.Stride+4*x0+c])
				p01 := float64(src.Pix[y0*src.Stride+4*x1+c])
				p10 := float64(src.Pix[y1*src.Stride+4*x0+c])
				p11 := float64(src.Pix[y1*src.Stride+4*x1+c])
				v := (p00*(1-tx)+p01*tx)*(1-ty) + (p10*(1-tx)+p11*tx)*ty
				out.Pix[y*out.Stride+4*x+c] = uint8(v + 0.5)
			}
			out.Pix[y*out.Stride+4*x+3] = 255
		}
	}
	return out
}
