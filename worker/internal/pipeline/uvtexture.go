package pipeline

import (
	"bytes"
	"fmt"
	"image"
	"path"

	"github.com/facefleet/facefleet/worker/internal/imageenc"
)

// FileUVAlpha is the kind of the UV texture's alpha file, written only for
// a format without alpha (uv_format "jpeg": uv_alpha.png).
const FileUVAlpha = "uv_alpha"

// encodeUV writes face ff's UV texture in format (Options.UVFormat; the file
// name and content type are imageenc's), plus its alpha file when the format
// has none, into ff under dir. When glb is set it returns the texture for
// mesh.glb, whose material is opaque (alpha unused): the texture file itself
// for PNG and JPEG, glTF's core image formats, and a PNG encoded for it
// otherwise (WebP would need the EXT_texture_webp extension).
func (p *Pipeline) encodeUV(ff *faceFiles, dir, format string, tex *image.NRGBA, glb bool) ([]byte, error) {
	file, ok := imageenc.FileOf(format)
	if !ok {
		return nil, fmt.Errorf("%w: uv_format %q", imageenc.ErrUnsupported, format)
	}
	enc := imageenc.Encoder{PNG: p.png}
	buf := func() *bytes.Buffer {
		b := getBuffer()
		ff.bufs = append(ff.bufs, b)
		return b
	}
	texBuf := buf()
	var alphaBuf *bytes.Buffer
	if file.AlphaName != "" {
		alphaBuf = buf()
	}
	if err := enc.Encode(format, texBuf, alphaBuf, tex); err != nil {
		return nil, fmt.Errorf("%s: %w", FileUVTexture, err)
	}
	add := func(kind, name, contentType string, data []byte) {
		rel := path.Join(dir, name)
		ff.files = append(ff.files, File{Path: rel, ContentType: contentType, Data: data})
		ff.result.Files[kind] = rel
	}
	add(FileUVTexture, file.Name, file.ContentType, texBuf.Bytes())
	if alphaBuf != nil {
		add(FileUVAlpha, file.AlphaName, imageenc.AlphaContentType, alphaBuf.Bytes())
	}
	switch {
	case !glb:
		return nil, nil
	case file.ContentType == "image/png" || file.ContentType == "image/jpeg":
		return texBuf.Bytes(), nil
	}
	b := buf()
	if err := p.png.Encode(b, tex); err != nil {
		return nil, fmt.Errorf("%s for the GLB: %w", FileUVTexture, err)
	}
	return b.Bytes(), nil
}
