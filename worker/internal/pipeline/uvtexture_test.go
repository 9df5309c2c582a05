package pipeline

import (
	"bytes"
	stdimage "image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/imageenc"
)

// decodeUV decodes a uv_texture file of format, checking its content type.
func decodeUV(t testing.TB, format string, f File) stdimage.Image {
	t.Helper()
	want, ok := imageenc.FileOf(format)
	require.True(t, ok, format)
	require.Equal(t, want.ContentType, f.ContentType, f.Path)
	require.True(t, strings.HasSuffix(f.Path, "/"+want.Name), f.Path)
	var img stdimage.Image
	var err error
	switch format {
	case job.UVFormatPNG:
		img, err = png.Decode(bytes.NewReader(f.Data))
	case job.UVFormatJPEG:
		img, err = jpeg.Decode(bytes.NewReader(f.Data))
	case job.UVFormatWebP: // libwebp, as browsers decode it
		var d *imagedecode.Image
		if d, err = imagedecode.Decode(f.Data, imagedecode.DefaultLimits()); err == nil {
			img = d.NRGBA
		}
	}
	require.NoError(t, err, f.Path)
	return img
}

// Every UV format through the pipeline, geometry on: the texture file has
// the format's name and content type and decodes to the PNG run's texture
// (exactly, or within the lossy floor: 38 dB), JPEG's
// alpha file is the PNG's alpha, mesh.mtl names the texture file, and
// mesh.glb embeds the texture file for PNG and JPEG, the PNG for WebP.
func TestRunUVFormats(t *testing.T) {
	t.Parallel()
	p := New(realEngine(t), imagedecode.DefaultLimits(), testkit.Logger(t))
	img := photo(t, "ddfa_jianzhuguo.jpg")
	var ref *stdimage.NRGBA
	var refPNG []byte
	for _, format := range imageenc.SupportedFormats() { // png first: the reference
		o := Options{Geometry: true, UVSize: 512, UVFormat: format}
		out, err := p.Run(t.Context(), img, o, nil)
		require.NoError(t, err, format)
		files := checkOutput(t, out, o)
		require.Len(t, out.Result.Faces, 1)
		face := out.Result.Faces[0]
		require.Equal(t, format, out.Result.Options.UVFormat)
		texFile := files[face.Files[FileUVTexture]]
		tex := decodeUV(t, format, texFile)
		mtl := string(files[face.Files[FileMeshMTL]].Data)
		require.Contains(t, mtl, "map_Kd "+texFile.Path[strings.LastIndex(texFile.Path, "/")+1:])
		glb := files[face.Files[FileMeshGLB]].Data
		if format == job.UVFormatPNG {
			ref = tex.(*stdimage.NRGBA)
			refPNG = texFile.Data
			require.NotContains(t, face.Files, FileUVAlpha)
			require.True(t, bytes.Contains(glb, refPNG), "mesh.glb embeds uv_texture.png")
			continue
		}
		require.NotNil(t, ref)
		if format == job.UVFormatJPEG {
			require.True(t, bytes.Contains(glb, texFile.Data), "mesh.glb embeds uv_texture.jpg")
			require.False(t, bytes.Contains(glb, refPNG))
			require.Contains(t, string(glb), `"mimeType":"image/jpeg"`)
			file := filepath.Join(t.TempDir(), "mesh.glb")
			require.NoError(t, os.WriteFile(file, glb, 0o600))
			rep, report := testkit.ValidateGLTF(t, t.Context(), file)
			require.Zero(t, rep.Issues.NumErrors, "glTF validator: %s", report)
		} else {
			require.True(t, bytes.Contains(glb, refPNG), "%s: mesh.glb embeds the PNG texture", format)
		}
		db := imageenc.PSNR(ref, tex)
		t.Logf("%s: %d bytes (png %d), %.1f dB", format, len(texFile.Data), len(refPNG), db)
		require.Greater(t, db, 38.0, format)
		require.Less(t, len(texFile.Data), len(refPNG)/3, "%s is much smaller than the PNG", format)
		if format == job.UVFormatJPEG {
			af := files[face.Files[FileUVAlpha]]
			require.Equal(t, "face-0/uv_alpha.png", af.Path)
			require.Equal(t, "image/png", af.ContentType)
			a, err := png.Decode(bytes.NewReader(af.Data))
			require.NoError(t, err)
			require.Equal(t, imageenc.Alpha(ref).Pix, a.(*stdimage.Gray).Pix)
		} else {
			require.NotContains(t, face.Files, FileUVAlpha)
		}
		out.Release()
	}
}

// BenchmarkRunUVFormats runs the real pipeline on one photo in every UV
// format this build writes, back to back in each iteration (so the formats
// compare under the same load), texture only and with geometry, at 1024²:
// <format>-encode-ms and <format>-total-ms (result.json's timings, means),
// <format>-encode-share (encode / total) and <format>-bytes (every output
// file but result.json).
func BenchmarkRunUVFormats(b *testing.B) {
	p := New(realEngine(b), imagedecode.DefaultLimits(), nil)
	data := photo(b, "kj_test1.jpg")
	for _, geometry := range []bool{false, true} {
		name := "texture"
		if geometry {
			name = "geometry"
		}
		b.Run(name, func(b *testing.B) {
			formats := imageenc.SupportedFormats()
			enc := make([]float64, len(formats))
			total := make([]float64, len(formats))
			size := make([]int, len(formats))
			for b.Loop() {
				for i, f := range formats {
					out, err := p.Run(b.Context(), data, Options{Geometry: geometry, UVFormat: f}, nil)
					require.NoError(b, err)
					enc[i] += out.Result.TimingsMS.Encode
					total[i] += out.Result.TimingsMS.Total
					size[i] = 0
					for _, file := range out.Files {
						if file.Path != ResultFile {
							size[i] += len(file.Data)
						}
					}
					out.Release()
				}
			}
			n := float64(b.N)
			for i, f := range formats {
				b.ReportMetric(enc[i]/n, f+"-encode-ms")
				b.ReportMetric(total[i]/n, f+"-total-ms")
				b.ReportMetric(enc[i]/total[i], f+"-encode-share")
				b.ReportMetric(float64(size[i]), f+"-bytes")
			}
		})
	}
}
