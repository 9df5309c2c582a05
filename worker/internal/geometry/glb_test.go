package geometry

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/testkit"
)

// testPNG encodes a small gradient image.
func testPNG(t testing.TB, size int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / size), uint8(y * 255 / size), 128, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// testJPEG is testPNG's picture as a JPEG (uv_format "jpeg" embeds one).
func testJPEG(t testing.TB, size int) []byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(testPNG(t, size)))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

// A JPEG texture is embedded as image/jpeg, byte for byte.
func TestWriteGLBJPEGTexture(t *testing.T) {
	t.Parallel()
	tex := testJPEG(t, 64)
	var buf bytes.Buffer
	require.NoError(t, WriteGLB(&buf, testMesh(t), tex))
	doc, bin := glbParts(t, buf.Bytes())
	require.Len(t, doc.Images, 1)
	require.Equal(t, "image/jpeg", doc.Images[0].MimeType)
	v := doc.BufferViews[doc.Images[0].BufferView]
	require.Equal(t, tex, bin[v.ByteOffset:v.ByteOffset+v.ByteLength])
}

// glbParts splits a GLB into its JSON document and BIN chunk, checking the
// container layout on the way.
func glbParts(t *testing.T, b []byte) (gltfDoc, []byte) {
	t.Helper()
	require.GreaterOrEqual(t, len(b), 28)
	le := binary.LittleEndian
	require.Equal(t, uint32(glbMagic), le.Uint32(b[0:]))
	require.Equal(t, uint32(2), le.Uint32(b[4:]))
	require.Equal(t, uint32(len(b)), le.Uint32(b[8:]))
	jsonLen := int(le.Uint32(b[12:]))
	require.Equal(t, uint32(glbChunkJSON), le.Uint32(b[16:]))
	require.Zero(t, jsonLen%4, "JSON chunk aligned")
	js := b[20 : 20+jsonLen]
	rest := b[20+jsonLen:]
	binLen := int(le.Uint32(rest[0:]))
	require.Equal(t, uint32(glbChunkBIN), le.Uint32(rest[4:]))
	require.Zero(t, binLen%4, "BIN chunk aligned")
	require.Len(t, rest[8:], binLen)
	var doc gltfDoc
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&doc))
	return doc, rest[8:]
}

func TestWriteGLBStructure(t *testing.T) {
	t.Parallel()
	m := testMesh(t)
	tex := testPNG(t, 64)
	var buf bytes.Buffer
	require.NoError(t, WriteGLB(&buf, m, tex))
	doc, bin := glbParts(t, buf.Bytes())

	require.Equal(t, "2.0", doc.Asset.Version)
	require.Equal(t, "facefleet", doc.Asset.Generator)
	require.Len(t, doc.Buffers, 1)
	require.Equal(t, len(bin), doc.Buffers[0].ByteLength)
	for _, v := range doc.BufferViews {
		require.Zero(t, v.ByteOffset%4)
		require.LessOrEqual(t, v.ByteOffset+v.ByteLength, len(bin))
	}
	prim := doc.Meshes[0].Primitives[0]
	require.Equal(t, gltfTriangles, prim.Mode)
	acc := func(i int) (gltfAccessor, []byte) {
		a := doc.Accessors[i]
		v := doc.BufferViews[a.BufferView]
		return a, bin[v.ByteOffset : v.ByteOffset+v.ByteLength]
	}
	pos, pdata := acc(prim.Attributes["POSITION"])
	require.Equal(t, len(m.Positions), pos.Count)
	require.Equal(t, "VEC3", pos.Type)
	for i := range m.Positions {
		for k := range 3 {
			got := math.Float32frombits(binary.LittleEndian.Uint32(pdata[(i*3+k)*4:]))
			require.InDelta(t, m.Positions[i][k]/100, got, 1e-7, "metres")
			require.GreaterOrEqual(t, float64(got), pos.Min[k])
			require.LessOrEqual(t, float64(got), pos.Max[k])
		}
	}
	nrm, ndata := acc(prim.Attributes["NORMAL"])
	for i := range nrm.Count {
		var s float64
		for k := range 3 {
			f := float64(math.Float32frombits(binary.LittleEndian.Uint32(ndata[(i*3+k)*4:])))
			s += f * f
		}
		require.InDelta(t, 1, math.Sqrt(s), 1e-5)
	}
	uv, _ := acc(prim.Attributes["TEXCOORD_0"])
	require.Equal(t, "VEC2", uv.Type)
	idx, idata := acc(prim.Indices)
	require.Equal(t, gltfUnsignedSh, idx.ComponentType)
	require.Equal(t, len(m.Triangles)*3, idx.Count)
	for i := range idx.Count {
		require.Less(t, int(binary.LittleEndian.Uint16(idata[i*2:])), pos.Count)
	}
	require.Equal(t, 0, doc.Materials[0].PBR.BaseColorTexture.Index)
	img := doc.Images[0]
	require.Equal(t, "image/png", img.MimeType)
	v := doc.BufferViews[img.BufferView]
	require.Equal(t, tex, bin[v.ByteOffset:v.ByteOffset+v.ByteLength])
}

func TestWriteGLBWithoutTexture(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	require.NoError(t, WriteGLB(&buf, testMesh(t), nil))
	doc, _ := glbParts(t, buf.Bytes())
	require.Empty(t, doc.Images)
	require.Nil(t, doc.Materials[0].PBR.BaseColorTexture)
}

func TestWriteGLBRejectsBadMesh(t *testing.T) {
	t.Parallel()
	m := *testMesh(t)
	m.Positions = append([][3]float32(nil), m.Positions...)
	m.Positions[5][1] = float32(math.NaN())
	require.ErrorIs(t, WriteGLB(&bytes.Buffer{}, &m, nil), ErrInvalidInput)
	require.ErrorIs(t, WriteGLB(&bytes.Buffer{}, &Mesh{}, nil), ErrInvalidInput)
}

// TestWriteGLBKhronosValidator runs the real Khronos glTF-Validator (npm
// gltf-validator, under FACEFLEET_GLTF_VALIDATOR or
// <repo>/.cache/node/node_modules/gltf-validator) on a GLB and fails on any
// error; warnings are logged.
func TestWriteGLBKhronosValidator(t *testing.T) {
	t.Parallel()
	rf := loadRealFace(t, "pexels-tim-douglas-6567248.face0.json")
	realPose, err := FitPose(rf.Landmarks, rf.Width, rf.Height, canonical(t))
	require.NoError(t, err)
	realMesh := MetricMesh(rf.Landmarks, rf.Width, rf.Height, realPose, canonical(t))
	for name, c := range map[string]struct {
		mesh *Mesh
		tex  []byte
	}{
		"textured":       {testMesh(t), testPNG(t, 256)},
		"jpeg texture":   {testMesh(t), testJPEG(t, 256)},
		"untextured":     {testMesh(t), nil},
		"real landmarks": {realMesh, testPNG(t, 512)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			require.NoError(t, WriteGLB(&buf, c.mesh, c.tex))
			file := filepath.Join(t.TempDir(), "mesh.glb")
			require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o600))
			rep, out := testkit.ValidateGLTF(t, t.Context(), file)
			for _, msg := range rep.Issues.Messages {
				t.Logf("validator severity %d %s at %s: %s", msg.Severity, msg.Code, msg.Pointer, msg.Message)
			}
			t.Logf("validator: %d errors, %d warnings, %d infos, %d hints", rep.Issues.NumErrors, rep.Issues.NumWarnings, rep.Issues.NumInfos, rep.Issues.NumHints)
			require.Zero(t, rep.Issues.NumErrors, "glTF validator errors: %s", out)
			require.Equal(t, "2.0", rep.Info.Version)
			require.Equal(t, "facefleet", rep.Info.Generator)
		})
	}
}
