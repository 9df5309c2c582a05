package errcode_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/errcode"
)

// TestArchitectureListsExactlyTheCodes keeps docs/ARCHITECTURE.md's "Error
// codes" table and All equal: every code is documented, nothing documented is
// missing from the set.
func TestArchitectureListsExactlyTheCodes(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "ARCHITECTURE.md"))
	require.NoError(t, err)
	doc := string(b)
	start := strings.Index(doc, "\n## Error codes\n")
	require.NotEqual(t, -1, start, `docs/ARCHITECTURE.md has no "## Error codes" section`)
	section := doc[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|")
	var documented []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	var codes []string
	for _, c := range errcode.All() {
		codes = append(codes, c.String())
	}
	slices.Sort(documented)
	slices.Sort(codes)
	require.Equal(t, codes, documented, "docs/ARCHITECTURE.md \"Error codes\" rows vs errcode.All()")
}

func TestAllDistinctAndKnown(t *testing.T) {
	t.Parallel()
	seen := map[errcode.Code]bool{}
	for _, c := range errcode.All() {
		require.False(t, seen[c], "duplicate %s", c)
		seen[c] = true
		require.True(t, errcode.Known(c.String()))
		require.Regexp(t, `^[a-z]+(_[a-z]+)*$`, c.String())
	}
	require.False(t, errcode.Known("no_such_code"))
	require.False(t, errcode.Known(""))
}
