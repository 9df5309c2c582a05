package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReconstructHead: `worker reconstruct --head` writes the geometry files
// (head implies geometry) and the head files, and result.json has the head.
func TestReconstructHead(t *testing.T) {
	t.Parallel()
	lib := ortLib(t)
	out := t.TempDir()
	_, _, err := runCmd(t, "reconstruct", "--ort-lib", lib, "--threads", "1", "--uv-size", "256", "--head", "-o", out, image("ddfa_jianzhuguo.jpg"))
	require.NoError(t, err)
	dir := filepath.Join(out, "ddfa_jianzhuguo")
	require.Equal(t, []string{
		"face-0/depth.png", "face-0/head.glb", "face-0/head.mtl", "face-0/head.obj", "face-0/head_texture.png",
		"face-0/mesh.glb", "face-0/mesh.mtl", "face-0/mesh.obj", "face-0/normals.png", "face-0/uv_texture.png", "result.json",
	}, listFiles(t, dir))
	r := readResult(t, filepath.Join(dir, "result.json"))
	require.True(t, r.Options.Head)
	require.True(t, r.Options.Geometry)
	require.NotNil(t, r.TimingsMS.Head)
	require.NotNil(t, r.Faces[0].Head)
	require.Len(t, r.Faces[0].Head.Identity, 100)
	require.Less(t, r.Faces[0].Head.ReprojectionError, 2.0)
}
