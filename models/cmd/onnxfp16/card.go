package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// The model card's SHA-256 table sits between these markers.
const (
	cardBegin = "<!-- sha256:begin -->"
	cardEnd   = "<!-- sha256:end -->"
)

// errStaleCard reports a model card whose SHA-256 table does not match the
// files.
var errStaleCard = errors.New("model card SHA-256 table is stale")

// packFiles lists the model pack's data files: every regular file in dir
// and dir/reference except Go sources and Markdown, as slash paths relative
// to dir, sorted.
func packFiles(dir string) ([]string, error) {
	var out []string
	for _, sub := range []string{".", "reference"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if sub != "." && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			n := e.Name()
			if !e.Type().IsRegular() || strings.HasSuffix(n, ".go") || strings.HasSuffix(n, ".md") {
				continue
			}
			out = append(out, path.Join(sub, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// shaTable renders the Markdown table of the pack's files, sizes and
// SHA-256 digests.
func shaTable(dir string) (string, error) {
	files, err := packFiles(dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("| file | bytes | SHA-256 |\n|---|---:|---|\n")
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "| `%s` | %d | `%s` |\n", f, len(data), hex.EncodeToString(sum[:]))
	}
	return b.String(), nil
}

// updateCard replaces the table between the markers of the card at path
// with the current one; with check it only compares.
func updateCard(cardPath, dir string, check bool) error {
	card, err := os.ReadFile(cardPath)
	if err != nil {
		return err
	}
	i := bytes.Index(card, []byte(cardBegin))
	j := bytes.Index(card, []byte(cardEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s … %s block", cardPath, cardBegin, cardEnd)
	}
	table, err := shaTable(dir)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	out.Write(card[:i+len(cardBegin)])
	out.WriteString("\n" + table)
	out.Write(card[j:])
	if bytes.Equal(out.Bytes(), card) {
		return nil
	}
	if check {
		return fmt.Errorf("%w: %s (run go generate ./models)", errStaleCard, cardPath)
	}
	return os.WriteFile(cardPath, out.Bytes(), 0o644)
}
