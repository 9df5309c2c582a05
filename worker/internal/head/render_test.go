package head

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/pngenc"
)

// glbScene is what the test renderer reads back from a head.glb: the morphed
// positions (base + Σ weight·sparse target, as a glTF viewer computes them),
// UVs, and per primitive its indices, colour and texture.
type glbScene struct {
	pos  [][3]float32
	uv   [][2]float32
	col  [][4]uint8
	prim []glbPrim
	tex  image.Image
}

type glbPrim struct {
	idx      []uint32
	rgba     [4]float64
	textured bool
}

func readGLB(t *testing.T, b []byte) glbScene {
	n := binary.LittleEndian.Uint32(b[12:])
	var doc struct {
		Accessors []struct {
			BufferView    *int
			ComponentType int
			Count         int
			Type          string
			Sparse        *struct {
				Count   int
				Indices struct{ BufferView, ComponentType int }
				Values  struct{ BufferView int }
			}
		}
		BufferViews []struct{ ByteOffset, ByteLength int }
		Meshes      []struct {
			Weights    []float64
			Primitives []struct {
				Attributes map[string]int
				Indices    int
				Material   int
				Targets    []map[string]int
			}
		}
		Materials []struct {
			PbrMetallicRoughness struct {
				BaseColorFactor  []float64
				BaseColorTexture *struct{ Index int }
			}
			AlphaMode string
		}
		Images []struct{ BufferView int }
	}
	require.NoError(t, json.Unmarshal(b[20:20+n], &doc))
	bin := b[20+n+8:]
	view := func(i int) []byte {
		v := doc.BufferViews[i]
		return bin[v.ByteOffset : v.ByteOffset+v.ByteLength]
	}
	floats := func(data []byte, i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])) }
	uints := func(data []byte, ct, i int) uint32 {
		if ct == gltfUShort {
			return uint32(binary.LittleEndian.Uint16(data[2*i:]))
		}
		return binary.LittleEndian.Uint32(data[4*i:])
	}
	mesh := doc.Meshes[0]
	p0 := mesh.Primitives[0]
	pa := doc.Accessors[p0.Attributes["POSITION"]]
	var s glbScene
	pd := view(*pa.BufferView)
	s.pos = make([][3]float32, pa.Count)
	for i := range s.pos {
		s.pos[i] = [3]float32{floats(pd, 3*i), floats(pd, 3*i+1), floats(pd, 3*i+2)}
	}
	for j, tg := range p0.Targets {
		a := doc.Accessors[tg["POSITION"]]
		require.Nil(t, a.BufferView)
		iv, vv := view(a.Sparse.Indices.BufferView), view(a.Sparse.Values.BufferView)
		w := float32(mesh.Weights[j])
		for k := range a.Sparse.Count {
			i := uints(iv, a.Sparse.Indices.ComponentType, k)
			for c := range 3 {
				s.pos[i][c] += w * floats(vv, 3*k+c)
			}
		}
	}
	ua := doc.Accessors[p0.Attributes["TEXCOORD_0"]]
	ud := view(*ua.BufferView)
	s.uv = make([][2]float32, ua.Count)
	for i := range s.uv {
		s.uv[i] = [2]float32{floats(ud, 2*i), floats(ud, 2*i+1)}
	}
	if ci, ok := p0.Attributes["COLOR_0"]; ok {
		cd := view(*doc.Accessors[ci].BufferView)
		s.col = make([][4]uint8, doc.Accessors[ci].Count)
		for i := range s.col {
			copy(s.col[i][:], cd[4*i:])
		}
	}
	if len(doc.Images) > 0 {
		img, err := png.Decode(bytes.NewReader(view(doc.Images[0].BufferView)))
		require.NoError(t, err)
		s.tex = img
	}
	for _, p := range mesh.Primitives {
		ia := doc.Accessors[p.Indices]
		id := view(*ia.BufferView)
		gp := glbPrim{idx: make([]uint32, ia.Count)}
		for i := range gp.idx {
			gp.idx[i] = uints(id, ia.ComponentType, i)
		}
		mat := doc.Materials[p.Material]
		gp.textured = mat.PbrMetallicRoughness.BaseColorTexture != nil
		copy(gp.rgba[:], mat.PbrMetallicRoughness.BaseColorFactor)
		if !gp.textured && len(mat.PbrMetallicRoughness.BaseColorFactor) == 0 {
			gp.rgba = [4]float64{1, 1, 1, 1}
		}
		if gp.textured {
			gp.rgba = [4]float64{1, 1, 1, 1}
		}
		s.prim = append(s.prim, gp)
	}
	return s
}

// render draws the scene orthographically from yaw degrees (the head turned
// towards the image's right for yaw > 0), lit from the camera, into a
// size×size image; it returns the image and the fraction of pixels covered.
func (s glbScene) render(yaw float64, size int) (*image.NRGBA, float64) {
	c, sn := math.Cos(yaw*math.Pi/180), math.Sin(yaw*math.Pi/180)
	// View: rotate about y, then x right, y down (flip), depth = −z (nearer = larger z).
	type pv struct{ x, y, z float64 }
	ps := make([]pv, len(s.pos))
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for i, p := range s.pos {
		x := c*float64(p[0]) + sn*float64(p[2])
		z := -sn*float64(p[0]) + c*float64(p[2])
		ps[i] = pv{x, -float64(p[1]), z}
		minX, maxX = math.Min(minX, x), math.Max(maxX, x)
		minY, maxY = math.Min(minY, -float64(p[1])), math.Max(maxY, -float64(p[1]))
	}
	scale := 0.9 * float64(size) / math.Max(maxX-minX, maxY-minY)
	cx, cy := (minX+maxX)/2, (minY+maxY)/2
	for i := range ps {
		ps[i].x = (ps[i].x-cx)*scale + float64(size)/2
		ps[i].y = (ps[i].y-cy)*scale + float64(size)/2
	}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.NRGBA{40, 44, 52, 255}), image.Point{}, draw.Src)
	zb := make([]float64, size*size)
	for i := range zb {
		zb[i] = math.Inf(-1)
	}
	var tw, th int
	if s.tex != nil {
		tw, th = s.tex.Bounds().Dx(), s.tex.Bounds().Dy()
	}
	covered := 0
	for pass := range 2 { // opaque first, then blended
		for _, p := range s.prim {
			if (p.rgba[3] < 1) != (pass == 1) || p.rgba[3] < 0.05 {
				continue
			}
			for t := 0; t+2 < len(p.idx); t += 3 {
				a, b, d := ps[p.idx[t]], ps[p.idx[t+1]], ps[p.idx[t+2]]
				// Face normal in view space for lighting (towards the viewer = +z).
				ux, uy, uz := b.x-a.x, b.y-a.y, (b.z-a.z)*scale
				vx, vy, vz := d.x-a.x, d.y-a.y, (d.z-a.z)*scale
				nx, ny, nz := uy*vz-uz*vy, uz*vx-ux*vz, ux*vy-uy*vx
				l := math.Sqrt(nx*nx + ny*ny + nz*nz)
				if l == 0 {
					continue
				}
				// y is flipped (down), so a front face has nz < 0 here.
				shade := math.Abs(nz / l)
				tri := [3][2]float64{{a.x, a.y}, {b.x, b.y}, {d.x, d.y}}
				rasterUV(tri, size, size, func(x, y int, bc [3]float64) {
					z := bc[0]*a.z + bc[1]*b.z + bc[2]*d.z
					i := y*size + x
					if z <= zb[i] {
						return
					}
					col := [3]float64{p.rgba[0] * 255, p.rgba[1] * 255, p.rgba[2] * 255}
					if p.textured && s.tex != nil {
						var u, v float64
						for k, vi := range []uint32{p.idx[t], p.idx[t+1], p.idx[t+2]} {
							u += bc[k] * float64(s.uv[vi][0])
							v += bc[k] * float64(s.uv[vi][1])
						}
						tc := color.NRGBAModel.Convert(s.tex.At(min(int(u*float64(tw)), tw-1), min(int(v*float64(th)), th-1))).(color.NRGBA)
						col = [3]float64{float64(tc.R), float64(tc.G), float64(tc.B)}
					}
					if s.col != nil {
						vc := s.col[p.idx[t]]
						for ch := range 3 {
							col[ch] *= float64(vc[ch]) / 255
						}
					}
					k := 0.35 + 0.65*shade
					o := img.PixOffset(x, y)
					al := p.rgba[3]
					if pass == 0 {
						zb[i] = z
						if img.Pix[o+3] == 255 && img.Pix[o] == 40 {
							covered++
						}
					}
					for ch := range 3 {
						img.Pix[o+ch] = uint8(math.Min(255, al*col[ch]*k+(1-al)*float64(img.Pix[o+ch])))
					}
					img.Pix[o+3] = 255
				})
			}
		}
	}
	return img, float64(covered) / float64(size*size)
}

// TestRenderHeadGLB renders head.glb (read back from the file bytes: base,
// sparse targets × weights, embedded texture) from −40°, 0° and +40° next to
// the photo's face, for a person to look at ($FACEFLEET_HEAD_OUT keeps the
// PNGs), and checks the renders show a textured head.
func TestRenderHeadGLB(t *testing.T) {
	dir := outDir(t)
	for _, stem := range []string{"kj_test1", "pexels-dinielle-de-veyra-4195444", "ddfa_jianzhuguo", "ddfa_emma#0", "pexels-tim-douglas-6567248", "bf_Test3#1"} {
		f := fitPhoto(t, stem)
		tex, _ := f.head.BakeTexture(f.photo)
		var pb bytes.Buffer
		require.NoError(t, pngenc.Encode(&pb, tex))
		var glb bytes.Buffer
		_, err := f.head.WriteGLB(&glb, pb.Bytes())
		require.NoError(t, err)
		scene := readGLB(t, glb.Bytes())
		const size = 384
		sheet := image.NewNRGBA(image.Rect(0, 0, 4*size, size))
		// The photo's face, cropped square around the landmarks.
		minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, l := range f.face.Landmarks {
			minX, minY = math.Min(minX, float64(l[0])), math.Min(minY, float64(l[1]))
			maxX, maxY = math.Max(maxX, float64(l[0])), math.Max(maxY, float64(l[1]))
		}
		side := 1.5 * math.Max(maxX-minX, maxY-minY)
		ox, oy := (minX+maxX)/2-side/2, (minY+maxY)/2-side/2
		for y := range size {
			for x := range size {
				c := bilinear(f.photo, ox+float64(x)*side/size, oy+float64(y)*side/size)
				sheet.SetNRGBA(x, y, c)
			}
		}
		for k, yaw := range []float64{-40, 0, 40} {
			img, cov := scene.render(yaw, size)
			require.Greater(t, cov, 0.3, "%s yaw %v renders a head", stem, yaw)
			draw.Draw(sheet, image.Rect((k+1)*size, 0, (k+2)*size, size), img, image.Point{}, draw.Src)
		}
		// The frontal render's centre (the nose/cheeks) is the face's colour, not the fill.
		file := filepath.Join(dir, strings.ReplaceAll(stem, "#", "_")+".renders.png")
		out, err := os.Create(file)
		require.NoError(t, err)
		require.NoError(t, pngenc.Encode(out, sheet))
		require.NoError(t, out.Close())
		t.Logf("%s: %s", stem, file)
	}
}
