package geometry

import (
	"io"
	"testing"
)

// benchFace is a face filling a 1024×1024 image (≈ 40 px/cm), turned a bit.
func benchFace() synthFace {
	return synthFace{pitch: 8, yaw: -15, roll: 4, scale: 40, w: 1024, h: 1024}
}

func BenchmarkFitPose(b *testing.B) {
	mesh := canonical(b)
	s := benchFace()
	lm := s.landmarks(mesh)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitPose(lm, s.w, s.h, mesh); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMetricMesh(b *testing.B) {
	mesh := canonical(b)
	s := benchFace()
	lm := s.landmarks(mesh)
	p, err := FitPose(lm, s.w, s.h, mesh)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		MetricMesh(lm, s.w, s.h, p, mesh)
	}
}

func BenchmarkWriteOBJ(b *testing.B) {
	m := testMesh(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteOBJ(io.Discard, m, "mesh.mtl"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteGLB(b *testing.B) {
	m := testMesh(b)
	tex := testPNG(b, 1024) // embedded as is; its size only costs a copy
	b.SetBytes(int64(len(tex)))
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteGLB(io.Discard, m, tex); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderDepth1024(b *testing.B) {
	mesh := canonical(b)
	s := benchFace()
	lm := s.landmarks(mesh)
	b.ReportAllocs()
	for b.Loop() {
		RenderDepth(lm, s.w, s.h, mesh.Triangles)
	}
}

func BenchmarkRenderNormals1024(b *testing.B) {
	mesh := canonical(b)
	s := benchFace()
	lm := s.landmarks(mesh)
	b.ReportAllocs()
	for b.Loop() {
		RenderNormals(lm, s.w, s.h, mesh.Triangles)
	}
}

// BenchmarkRenderMaps1024 renders both maps from one rasterisation (compare
// with BenchmarkRenderDepth1024 + BenchmarkRenderNormals1024).
func BenchmarkRenderMaps1024(b *testing.B) {
	mesh := canonical(b)
	s := benchFace()
	lm := s.landmarks(mesh)
	b.ReportAllocs()
	for b.Loop() {
		RenderMaps(lm, s.w, s.h, mesh.Triangles)
	}
}
