package fleet

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"image/png"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
)

// A job asking for uv_format "jpeg" through the real fleet (NATS, Redis, S3):
// S3 holds uv_texture.jpg (image/jpeg) and uv_alpha.png (image/png) beside
// result.json, which names them and the option.
func TestE2EUVFormatJPEG(t *testing.T) {
	t.Parallel()
	p := realPipeline(t)
	b := setup(t, queue.Config{AckWait: 10 * time.Second})
	b.start(t, p)
	id := b.submit(t, photo(t, "ddfa_jianzhuguo.jpg"), job.Options{UVSize: 256, UVFormat: job.UVFormatJPEG})
	r := b.waitState(t, id, isState(status.StateSucceeded))
	require.Equal(t, 1, r.Attempts)

	prefix := "results/" + id + "/"
	keys, err := b.store.ListResults(b.ctx, id)
	require.NoError(t, err)
	want := []string{prefix + "face-0/uv_alpha.png", prefix + "face-0/uv_texture.jpg", prefix + "result.json"}
	require.Equal(t, want, keys)
	for key, ct := range map[string]string{want[0]: "image/png", want[1]: "image/jpeg", want[2]: "application/json"} {
		info, err := b.store.Stat(b.ctx, key)
		require.NoError(t, err)
		require.Equal(t, ct, info.ContentType, key)
	}
	tex, err := b.store.Get(b.ctx, want[1], 1<<24)
	require.NoError(t, err)
	img, err := jpeg.Decode(bytes.NewReader(tex))
	require.NoError(t, err)
	require.Equal(t, 256, img.Bounds().Dx())
	alpha, err := b.store.Get(b.ctx, want[0], 1<<24)
	require.NoError(t, err)
	a, err := png.Decode(bytes.NewReader(alpha))
	require.NoError(t, err)
	require.Equal(t, 256, a.Bounds().Dx())

	raw, err := b.store.Get(b.ctx, want[2], 1<<24)
	require.NoError(t, err)
	var res struct {
		Options struct {
			UVFormat string `json:"uv_format"`
		} `json:"options"`
		Faces []struct {
			Files map[string]string `json:"files"`
		} `json:"faces"`
	}
	require.NoError(t, json.Unmarshal(raw, &res))
	require.Equal(t, "jpeg", res.Options.UVFormat)
	require.Len(t, res.Faces, 1)
	require.Equal(t, map[string]string{"uv_texture": "face-0/uv_texture.jpg", "uv_alpha": "face-0/uv_alpha.png"}, res.Faces[0].Files)
	outs := append([]string(nil), r.Outputs...)
	sort.Strings(outs)
	require.Equal(t, want, outs)
	b.waitIdle(t)
}
