package fleet

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/toolcheck"
	"github.com/facefleet/facefleet/worker/internal/engine"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// End-to-end tests: real NATS, Redis, S3 and the real pipeline on real
// photos (ONNX Runtime on the CPU).

// ortLibrary finds libonnxruntime: $FACEFLEET_ORT_LIB, else .cache/ort in
// the module root.
func ortLibrary(t testing.TB) string { return engine.FindLibrary(".") }

// sharedPipeline is one CPU engine and pipeline for the test binary:
// sessions take a while to create, and a worker owns one per device anyway.
var sharedPipeline struct {
	sync.Mutex
	p   *pipeline.Pipeline
	err error
}

func realPipeline(t *testing.T) *pipeline.Pipeline {
	t.Helper()
	lib := ortLibrary(t)
	if lib == "" {
		toolcheck.Missing(t, "ONNX Runtime library not found: set %s or run `make setup`", engine.LibraryEnv)
	}
	sharedPipeline.Lock()
	defer sharedPipeline.Unlock()
	if sharedPipeline.p == nil && sharedPipeline.err == nil {
		var eng *engine.Engine
		eng, sharedPipeline.err = engine.New(engine.Config{LibraryPath: lib, IntraOpThreads: 1})
		if sharedPipeline.err == nil {
			sharedPipeline.p = pipeline.New(eng, imagedecode.Limits{}, nil)
		}
	}
	require.NoError(t, sharedPipeline.err)
	return sharedPipeline.p
}

func photo(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestE2ESucceedsWithAllFiles(t *testing.T) {
	t.Parallel()
	p := realPipeline(t)
	b := setup(t, queue.Config{AckWait: 10 * time.Second})
	b.start(t, p)
	id := b.submit(t, photo(t, "ddfa_jianzhuguo.jpg"), job.Options{Geometry: true, UVSize: 256})
	w := b.watch(t, id)
	recs := w.final(t)
	last := recs[len(recs)-1]
	require.Equal(t, status.StateSucceeded, last.State, "%+v", last)

	// Status only moves forward.
	order := map[status.State]int{status.StateQueued: 0, status.StateRunning: 1, status.StateSucceeded: 2}
	for i := 1; i < len(recs); i++ {
		prev, cur := recs[i-1], recs[i]
		require.GreaterOrEqual(t, order[cur.State], order[prev.State], "state went back: %s → %s", prev.State, cur.State)
		require.Greater(t, cur.Revision, prev.Revision)
		if cur.State == prev.State {
			require.GreaterOrEqual(t, cur.Percent, prev.Percent)
		}
	}
	var stages []string
	for _, r := range recs {
		if r.State == status.StateRunning && r.Stage != "" && !slices.Contains(stages, r.Stage) {
			stages = append(stages, r.Stage)
		}
	}
	require.Equal(t, []string{"decode", "detect", "landmarks", "texture", "geometry", "encode"}, stages)

	// Every file in S3, nothing else, and the status lists exactly them.
	keys, err := b.store.ListResults(b.ctx, id)
	require.NoError(t, err)
	want := []string{"result.json", "face-0/uv_texture.png", "face-0/mesh.obj", "face-0/mesh.mtl",
		"face-0/mesh.glb", "face-0/depth.png", "face-0/normals.png"}
	for i := range want {
		want[i] = "results/" + id + "/" + want[i]
	}
	sort.Strings(want)
	require.Equal(t, want, keys)
	outs := slices.Clone(last.Outputs)
	sort.Strings(outs)
	require.Equal(t, want, outs)
	png, err := b.store.Get(b.ctx, "results/"+id+"/face-0/uv_texture.png", 1<<24)
	require.NoError(t, err)
	require.Equal(t, "\x89PNG", string(png[:4]))
	for _, s := range []string{"decode", "detect", "landmarks", "texture", "geometry", "encode", "upload", "total"} {
		require.Contains(t, last.Timings, s)
	}
	b.waitIdle(t)
}

func TestE2EBadImageFailsOnce(t *testing.T) {
	t.Parallel()
	p := realPipeline(t)
	b := setup(t, queue.Config{})
	b.start(t, p)
	img := photo(t, "kj_test1.jpg")
	id := b.submit(t, img[:len(img)/3], job.Options{}) // truncated JPEG
	r := b.waitState(t, id, isState(status.StateFailed))
	require.Equal(t, "image_undecodable", r.ErrorCode)
	require.Equal(t, 1, r.Attempts)
	b.waitIdle(t)
	require.Zero(t, b.redelivered(t), "a bad image must not be retried")
	// Kept for an operator, once, with the code.
	dls, err := b.q.DeadLetters(b.ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, dls, 1)
	require.Equal(t, "image_undecodable", dls[0].Code)
	require.Equal(t, id, dls[0].JobID)
	keys, err := b.store.ListResults(b.ctx, id)
	require.NoError(t, err)
	require.Empty(t, keys)
}

func TestE2ETransientS3FailureRetried(t *testing.T) {
	t.Parallel()
	p := realPipeline(t)
	b := setup(t, queue.Config{})
	b.images.failPuts.Store(2) // the first two uploads fail
	b.start(t, p)
	id := b.submit(t, photo(t, "kj_test1.jpg"), job.Options{UVSize: 256})
	r := b.waitState(t, id, isState(status.StateSucceeded))
	require.Equal(t, 3, r.Attempts, "two failed uploads, then success")
	keys, err := b.store.ListResults(b.ctx, id)
	require.NoError(t, err)
	require.Len(t, keys, 2) // result.json, face-0/uv_texture.png
	b.waitIdle(t)
}
