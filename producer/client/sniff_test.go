package client

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSniffImage(t *testing.T) {
	t.Parallel()
	jpg, err := os.ReadFile("testdata/face.jpg")
	require.NoError(t, err)
	require.Equal(t, "image/jpeg", SniffImage(jpg))
	require.Equal(t, "image/png", SniffImage([]byte("\x89PNG\r\n\x1a\n0000")))
	require.Equal(t, "image/webp", SniffImage([]byte("RIFF\x00\x00\x00\x00WEBPVP8 ")))
	require.Empty(t, SniffImage([]byte("GIF89a")))
	require.Empty(t, SniffImage(nil))
}

func TestCleanName(t *testing.T) {
	t.Parallel()
	require.Equal(t, "My_Photo_.jpg", cleanName("../../My Photo!.JPG", "image/jpeg"))
	require.Equal(t, "upload.png", cleanName("", "image/png"))
	require.Equal(t, "upload.webp", cleanName("..", "image/webp"))
	require.Equal(t, "b.jpg", cleanName(`C:\a\b.png`, "image/jpeg"))
}

func FuzzCleanName(f *testing.F) {
	f.Add("../../x.jpg")
	f.Add("\x00/..\\.")
	f.Fuzz(func(t *testing.T, name string) {
		out := cleanName(name, "image/jpeg")
		require.NotEmpty(t, out)
		require.NotContains(t, out, "/")
		require.NotContains(t, out, "\\")
		require.LessOrEqual(t, len(out), 128+len(".jpg"))
		require.NotEqual(t, '.', rune(out[0]))
	})
}

func FuzzSniffImage(f *testing.F) {
	f.Add([]byte("RIFF0000WEBP"))
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		switch SniffImage(b) {
		case "", "image/jpeg", "image/png", "image/webp":
		default:
			t.Fatal("unexpected type")
		}
	})
}

func BenchmarkSniffImage(b *testing.B) {
	jpg, err := os.ReadFile("testdata/face.jpg")
	if err != nil {
		b.Fatal(err)
	}
	head := jpg[:512]
	for b.Loop() {
		if SniffImage(head) != "image/jpeg" {
			b.Fatal("not jpeg")
		}
	}
}
