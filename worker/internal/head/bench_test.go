package head

import (
	"bytes"
	"io"
	"testing"

	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// BenchmarkFit is the per-face cost of the fit alone.
func BenchmarkFit(b *testing.B) {
	f := loadOracle(b)[7]
	in := Input{Landmarks: f.Landmarks, Width: f.W, Height: f.H}
	if _, err := Fit(in); err != nil { // load the basis outside the timing
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Fit(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOutputs is the per-face cost of everything after the fit: meshes,
// texture bake, PNG, GLB and OBJ.
func BenchmarkOutputs(b *testing.B) {
	f := fitPhoto(b, "ddfa_jianzhuguo")
	for b.Loop() {
		h := Build(f.head.Fit)
		tex, _ := h.BakeTexture(f.photo)
		var png bytes.Buffer
		if err := pngenc.Encode(&png, tex); err != nil {
			b.Fatal(err)
		}
		if _, err := h.WriteGLB(io.Discard, png.Bytes()); err != nil {
			b.Fatal(err)
		}
		if err := h.WriteOBJ(io.Discard, "head.mtl"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBake(b *testing.B) {
	f := fitPhoto(b, "ddfa_jianzhuguo")
	f.head.BakeTexture(f.photo) // build the per-process tables outside the timing
	for b.Loop() {
		f.head.BakeTexture(f.photo)
	}
}

func BenchmarkWriteGLB(b *testing.B) {
	f := fitPhoto(b, "ddfa_jianzhuguo")
	tex, _ := f.head.BakeTexture(f.photo)
	var png bytes.Buffer
	if err := pngenc.Encode(&png, tex); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.head.WriteGLB(io.Discard, png.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteOBJ(b *testing.B) {
	f := fitPhoto(b, "ddfa_jianzhuguo")
	for b.Loop() {
		if err := f.head.WriteOBJ(io.Discard, "head.mtl"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeTexture(b *testing.B) {
	f := fitPhoto(b, "ddfa_jianzhuguo")
	tex, _ := f.head.BakeTexture(f.photo)
	for b.Loop() {
		if err := pngenc.Encode(io.Discard, tex); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	f := fitPhoto(b, "ddfa_jianzhuguo")
	for b.Loop() {
		Build(f.head.Fit)
	}
}

// BenchmarkStage is the pipeline's head stage for one face: the fit, the
// meshes and the texture bake (the encode stage writes the files).
func BenchmarkStage(b *testing.B) {
	f := fitPhoto(b, "ddfa_jianzhuguo")
	in := Input{Landmarks: f.face.Landmarks, Width: f.face.W, Height: f.face.H}
	f.head.BakeTexture(f.photo) // per-process tables outside the timing
	for b.Loop() {
		r, err := Fit(in)
		if err != nil {
			b.Fatal(err)
		}
		Build(r).BakeTexture(f.photo)
	}
}
