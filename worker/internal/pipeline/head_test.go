package pipeline

import (
	"bytes"
	"encoding/json"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
)

// TestRunHead runs the head stage on real photos: head implies geometry,
// every face gets head.glb, head_texture.png, head.obj and head.mtl, the
// result's head object is filled and result.json passes its schema.
func TestRunHead(t *testing.T) {
	t.Parallel()
	p := New(realEngine(t), imagedecode.DefaultLimits(), testkit.Logger(t))
	for _, tc := range []struct {
		image string
		faces int
	}{{"kj_test1.jpg", 1}, {"bf_Test3.jpg", 3}} {
		var stages []string
		o := Options{Head: true, UVSize: 256}
		out, err := p.Run(t.Context(), photo(t, tc.image), o, func(stage string, _ int) { stages = append(stages, stage) })
		require.NoError(t, err, tc.image)
		require.Equal(t, []string{StageDecode, StageDetect, StageLandmarks, StageTexture, StageGeometry, StageHead, StageEncode}, stages)
		r := out.Result
		require.True(t, r.Options.Geometry, "head implies geometry")
		require.True(t, r.Options.Head)
		require.NotNil(t, r.TimingsMS.Geometry)
		require.NotNil(t, r.TimingsMS.Head)
		last := out.Files[len(out.Files)-1]
		require.Equal(t, ResultFile, last.Path)
		require.NoError(t, validate(t, resultSchema(t), last.Data))
		files := map[string][]byte{}
		for _, f := range out.Files {
			files[f.Path] = f.Data
		}
		require.Len(t, r.Faces, tc.faces)
		for _, f := range r.Faces {
			require.NotNil(t, f.Pose)
			require.NotNil(t, f.Head, "%s face %d", tc.image, f.Index)
			h := f.Head
			require.Len(t, h.Identity, 100)
			require.Len(t, h.Expression, 53)
			require.Len(t, h.Landmarks68, 68)
			require.Less(t, h.ReprojectionError, 3.0)
			require.False(t, h.PoorFit)
			for _, k := range []string{FileHeadGLB, FileHeadOBJ, FileHeadMTL, FileHeadTexture, FileMeshGLB} {
				require.NotEmpty(t, files[f.Files[k]], "%s face %d %s", tc.image, f.Index, k)
			}
			glb := files[f.Files[FileHeadGLB]]
			require.Equal(t, "glTF", string(glb[:4]))
			tex, err := png.Decode(bytes.NewReader(files[f.Files[FileHeadTexture]]))
			require.NoError(t, err)
			require.Equal(t, 2*tex.Bounds().Dy(), tex.Bounds().Dx())
			t.Logf("%s face %d: reprojection %.2f %% IOD, yaw %.1f, head.glb %d bytes", tc.image, f.Index, h.ReprojectionError, h.Pose.Yaw, len(glb))
		}
		// The schema refuses a head object without its identity.
		var doc map[string]any
		require.NoError(t, json.Unmarshal(last.Data, &doc))
		delete(doc["faces"].([]any)[0].(map[string]any)["head"].(map[string]any), "identity")
		broken, err := json.Marshal(doc)
		require.NoError(t, err)
		require.Error(t, validate(t, resultSchema(t), broken))
		out.Release()
	}
}
