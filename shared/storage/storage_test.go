package storage_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/storage"
	"github.com/facefleet/facefleet/shared/testkit"
)

func setup(t testing.TB) (*storage.Store, context.Context) {
	t.Helper()
	env := testkit.S3(t)
	cfg := testkit.StorageConfig(env)
	cfg.PresignExpiry = time.Minute
	st, err := storage.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return st, ctx
}

func TestEnsureBucketIdempotent(t *testing.T) {
	t.Parallel()
	env := testkit.S3(t)
	bucket := testkit.BucketName(t)
	st, err := storage.New(storage.Config{Endpoint: env.Endpoint, AccessKey: env.AccessKey, SecretKey: env.SecretKey, Bucket: bucket})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, st.EnsureBucket(ctx))
	require.NoError(t, st.EnsureBucket(ctx))
	t.Cleanup(func() { _ = env.Client.RemoveBucket(context.Background(), bucket) })
	ok, err := env.Client.BucketExists(ctx, bucket)
	require.NoError(t, err)
	require.True(t, ok)
}

func TestPutGetListPresign(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	id := "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"
	img := bytes.Repeat([]byte{0xff, 0xd8, 0x01}, 1000)
	key, err := st.PutInput(ctx, "acme", id, "../../My Photo (1).JPG", bytes.NewReader(img), int64(len(img)), "")
	require.NoError(t, err)
	require.Equal(t, "inputs/acme/"+id+"/My_Photo__1_.JPG", key)
	got, err := st.Get(ctx, key, int64(len(img)))
	require.NoError(t, err)
	require.Equal(t, img, got)

	_, err = st.Get(ctx, key, int64(len(img))-1)
	require.ErrorIs(t, err, storage.ErrTooLarge)
	_, err = st.Get(ctx, "inputs/nope", 10)
	require.ErrorIs(t, err, storage.ErrNotFound)
	ok, err := st.Exists(ctx, key)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = st.Exists(ctx, "inputs/nope")
	require.NoError(t, err)
	require.False(t, ok)
	si, err := st.Stat(ctx, key)
	require.NoError(t, err)
	require.EqualValues(t, len(img), si.Size)
	require.NotEmpty(t, si.ETag)
	_, err = st.Stat(ctx, "inputs/nope")
	require.ErrorIs(t, err, storage.ErrNotFound)

	var want []string
	for _, rel := range []string{"result.json", "face-0/uv_texture.png", "face-0/mesh.glb", "face-1/mesh.obj"} {
		k, err := storage.ResultKey(id, rel)
		require.NoError(t, err)
		require.NoError(t, st.PutBytes(ctx, k, []byte("data:"+rel), ""))
		want = append(want, k)
	}
	// Another job's results must not be listed.
	other, err := storage.ResultKey("other", "result.json")
	require.NoError(t, err)
	require.NoError(t, st.PutBytes(ctx, other, []byte("{}"), ""))
	keys, err := st.ListResults(ctx, id)
	require.NoError(t, err)
	require.ElementsMatch(t, want, keys)

	info, err := st.Client().StatObject(ctx, st.Bucket(), want[2], minioStat())
	require.NoError(t, err)
	require.Equal(t, "model/gltf-binary", info.ContentType)

	u, err := st.PresignGet(ctx, want[0])
	require.NoError(t, err)
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "data:result.json", string(body))
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))

	// A tampered URL is refused (real signature checks).
	bad, err := http.Get(strings.Replace(u, "result.json", "result.jso", 1))
	require.NoError(t, err)
	bad.Body.Close()
	require.Equal(t, http.StatusForbidden, bad.StatusCode)

	require.NoError(t, st.Delete(ctx, want[0]))
	ok, err = st.Exists(ctx, want[0])
	require.NoError(t, err)
	require.False(t, ok)
}

func TestPutUnknownSizeMultipart(t *testing.T) {
	t.Parallel()
	st, ctx := setup(t)
	data := bytes.Repeat([]byte("abcdefgh"), (17<<20)/8) // 17 MiB > one 16 MiB part
	require.NoError(t, st.Put(ctx, "inputs/big/x.bin", io.MultiReader(bytes.NewReader(data)), -1, ""))
	got, err := st.Get(ctx, "inputs/big/x.bin", int64(len(data)))
	require.NoError(t, err)
	require.Equal(t, len(data), len(got))
	require.True(t, bytes.Equal(data, got))
}

func TestKeys(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"photo.jpg": "photo.jpg", "a/b/c.png": "c.png", `C:\x\y.jpeg`: "y.jpeg", "..": "upload",
		"": "upload", ".hidden": "hidden", "ünï.jpg": "_n_.jpg", "a b\x00.png": "a_b_.png",
	} {
		require.Equal(t, want, storage.SanitizeFilename(in), in)
	}
	require.Len(t, storage.SanitizeFilename(strings.Repeat("a", 500)), 128)
	for _, rel := range []string{"", "/abs", "../x", "a/../../x", "a//b", "./a", "a\x01"} {
		_, err := storage.ResultKey("id", rel)
		require.ErrorIs(t, err, storage.ErrInvalidKey, rel)
	}
	_, err := storage.ResultKey("a/b", "x")
	require.ErrorIs(t, err, storage.ErrInvalidKey)
	require.Equal(t, "image/png", storage.ContentType("a/B.PNG"))
	require.Equal(t, "model/mtl", storage.ContentType("mesh.mtl"))
	require.Equal(t, "application/octet-stream", storage.ContentType("x"))
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, err := storage.New(storage.Config{Endpoint: "http://x:9000", PresignExpiry: time.Hour * 24 * 30})
	require.ErrorIs(t, err, storage.ErrInvalidConfig)
	require.Len(t, err.(interface{ Unwrap() []error }).Unwrap(), 3)
}

func FuzzSanitizeFilename(f *testing.F) {
	for _, s := range []string{"photo.jpg", "../..", "a/b\\c", "\x00", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		s := storage.SanitizeFilename(name)
		k := storage.InputKey("acme", "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee", name)
		require.NotEmpty(t, s)
		require.LessOrEqual(t, len(s), 128)
		require.NotContains(t, s, "/")
		require.NotEqual(t, "..", s)
		require.Equal(t, "inputs/acme/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee/"+s, k)
	})
}
