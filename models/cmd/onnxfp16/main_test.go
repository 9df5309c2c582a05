package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

const modelsDir = "../.."

func TestRunIsRerunnable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(modelsDir, "face_detection_short_range.onnx"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "det.onnx"), src, 0o644))
	card := filepath.Join(dir, "CARD.md")
	require.NoError(t, os.WriteFile(card, []byte("# card\n"+cardBegin+"\nold\n"+cardEnd+"\ntail\n"), 0o644))
	ctx := context.Background()

	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-dir", dir, "-card", card}, &out))
	require.Contains(t, out.String(), "det.onnx → det.fp16.onnx")
	first, err := os.ReadFile(filepath.Join(dir, "det.fp16.onnx"))
	require.NoError(t, err)
	require.Less(t, len(first), len(src))
	c, err := os.ReadFile(card)
	require.NoError(t, err)
	require.Contains(t, string(c), "| `det.fp16.onnx` |")
	require.NotContains(t, string(c), "old")
	require.Contains(t, string(c), "tail")

	// A rerun skips *.fp16.onnx and writes the same bytes; -check agrees.
	out.Reset()
	require.NoError(t, run(ctx, []string{"-dir", dir, "-card", card}, &out))
	require.NotContains(t, out.String(), "det.fp16.fp16")
	second, err := os.ReadFile(filepath.Join(dir, "det.fp16.onnx"))
	require.NoError(t, err)
	require.Equal(t, first, second)
	require.NoError(t, run(ctx, []string{"-dir", dir, "-card", card, "-check"}, &out))

	// A changed output or a stale card fails -check.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "det.fp16.onnx"), first[:len(first)-1], 0o644))
	require.Error(t, run(ctx, []string{"-dir", dir, "-check"}, &out))
	require.NoError(t, run(ctx, []string{"-dir", dir}, &out))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "extra.json"), []byte("{}"), 0o644))
	require.ErrorIs(t, run(ctx, []string{"-dir", dir, "-card", card, "-check"}, &out), errStaleCard)

	// The CPU variant, under its own suffix, which later runs skip as input.
	out.Reset()
	require.NoError(t, run(ctx, []string{"-dir", dir, "-keep-fp32", "cpu", "-suffix", ".cpu.onnx"}, &out))
	require.Contains(t, out.String(), "det.onnx → det.cpu.onnx")
	require.Contains(t, out.String(), "Conv×37")
	out.Reset()
	require.NoError(t, run(ctx, []string{"-dir", dir}, &out))
	require.NotContains(t, out.String(), "det.cpu.onnx →")

	require.Error(t, run(ctx, []string{"-dir", t.TempDir()}, &out), "no models")
}

// TestModelCardMatchesFiles re-hashes every file the card lists and checks
// the list is exactly the pack's data files, so the card cannot go stale.
func TestModelCardMatchesFiles(t *testing.T) {
	t.Parallel()
	card, err := os.ReadFile(filepath.Join(modelsDir, "MODEL_CARD.md"))
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\| (\\d+) \\| `([0-9a-f]{64})` \\|$")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(string(card), -1) {
		data, err := os.ReadFile(filepath.Join(modelsDir, filepath.FromSlash(m[1])))
		require.NoError(t, err, "card lists %s", m[1])
		sum := sha256.Sum256(data)
		require.Equal(t, m[3], hex.EncodeToString(sum[:]), "SHA-256 of %s (run go generate ./models)", m[1])
		require.Equal(t, m[2], strconv.Itoa(len(data)), "size of %s", m[1])
		listed = append(listed, m[1])
	}
	files, err := packFiles(modelsDir)
	require.NoError(t, err)
	require.Equal(t, files, listed, "card's table vs the files in models/")
	require.GreaterOrEqual(t, len(files), 10)
	require.NoError(t, updateCard(filepath.Join(modelsDir, "MODEL_CARD.md"), modelsDir, true))
}
