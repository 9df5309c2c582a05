package main

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// reconstruct --uv-format jpeg writes uv_texture.jpg and uv_alpha.png (and
// the option in result.json); a format it does not know is invalid_options.
func TestReconstructUVFormat(t *testing.T) {
	t.Parallel()
	lib := ortLib(t)
	out := t.TempDir()
	_, _, err := runCmd(t, "reconstruct", "--ort-lib", lib, "--threads", "1", "--uv-size", "256", "--uv-format", "jpeg",
		"-o", out, image("ddfa_jianzhuguo.jpg"))
	require.NoError(t, err)
	dir := filepath.Join(out, "ddfa_jianzhuguo")
	require.Equal(t, []string{"face-0/uv_alpha.png", "face-0/uv_texture.jpg", "result.json"}, listFiles(t, dir))
	r := readResult(t, filepath.Join(dir, "result.json"))
	require.Equal(t, "jpeg", r.Options.UVFormat)
	data, err := os.ReadFile(filepath.Join(dir, "face-0", "uv_texture.jpg"))
	require.NoError(t, err)
	img, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, 256, img.Bounds().Dx())

	_, _, err = runCmd(t, "reconstruct", "-o", out, "--uv-format", "gif", "x.jpg")
	require.ErrorIs(t, err, pipeline.ErrInvalidOptions)
	require.ErrorContains(t, err, "uv_format")
}
