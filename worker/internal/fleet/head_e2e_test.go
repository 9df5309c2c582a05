package fleet

import (
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
)

// TestE2EHead carries the head option through the fleet: a job with head
// (and no explicit geometry) runs the geometry and head stages and stores the
// head files next to the geometry ones.
func TestE2EHead(t *testing.T) {
	t.Parallel()
	p := realPipeline(t)
	b := setup(t, queue.Config{AckWait: 10 * time.Second})
	b.start(t, p)
	id := b.submit(t, photo(t, "ddfa_jianzhuguo.jpg"), job.Options{Head: true, UVSize: 256})
	recs := b.watch(t, id).final(t)
	last := recs[len(recs)-1]
	require.Equal(t, status.StateSucceeded, last.State, "%+v", last)
	var stages []string
	for _, r := range recs {
		if r.State == status.StateRunning && r.Stage != "" && !slices.Contains(stages, r.Stage) {
			stages = append(stages, r.Stage)
		}
	}
	require.Equal(t, []string{"decode", "detect", "landmarks", "texture", "geometry", "head", "encode"}, stages)
	keys, err := b.store.ListResults(b.ctx, id)
	require.NoError(t, err)
	want := []string{"result.json", "face-0/uv_texture.png", "face-0/mesh.obj", "face-0/mesh.mtl",
		"face-0/mesh.glb", "face-0/depth.png", "face-0/normals.png",
		"face-0/head.glb", "face-0/head_texture.png", "face-0/head.obj", "face-0/head.mtl"}
	for i := range want {
		want[i] = "results/" + id + "/" + want[i]
	}
	sort.Strings(want)
	require.Equal(t, want, keys)
	require.Contains(t, last.Timings, "head")
	glb, err := b.store.Get(b.ctx, "results/"+id+"/face-0/head.glb", 1<<25)
	require.NoError(t, err)
	require.Equal(t, "glTF", string(glb[:4]))
	b.waitIdle(t)
}
