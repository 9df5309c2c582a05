package deploy_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start, n := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	require.NoError(t, sc.Err())
	return out
}

var pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)(@sha256:[0-9a-f]{64})?$`)

// The rules hadolint would enforce and that we care about (hadolint itself is
// not installable here).
func TestDockerfiles(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, rel := range []string{"worker/Dockerfile", "worker/Dockerfile.gpu", "producer/Dockerfile"} {
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			ins := parseDockerfile(t, filepath.Join(root, rel))
			args := map[string]string{}
			var froms []instruction
			lastStage := 0
			for i, in := range ins {
				switch in.cmd {
				case "ARG":
					k, v, ok := strings.Cut(in.args, "=")
					if ok {
						args[k] = v
					}
				case "FROM":
					froms = append(froms, in)
					lastStage = i
				}
			}
			require.GreaterOrEqual(t, len(froms), 2, "multi-stage build expected")
			for _, f := range froms {
				image := strings.Fields(f.args)[0]
				image = os.Expand(image, func(k string) string { return args[k] })
				require.Regexp(t, pinnedImage, image, "line %d: base image must be pinned by tag", f.line)
				require.NotContains(t, image, ":latest", "line %d", f.line)
			}
			final := ins[lastStage:]
			var user, health, labels, entry bool
			for _, in := range final {
				switch in.cmd {
				case "USER":
					u := strings.Split(in.args, ":")[0]
					require.NotContains(t, []string{"root", "0"}, u, "final stage runs as root")
					user = true
				case "HEALTHCHECK":
					health = true
				case "LABEL":
					labels = labels || strings.Contains(in.args, "org.opencontainers.image.source")
				case "ENTRYPOINT":
					require.True(t, strings.HasPrefix(in.args, "["), "ENTRYPOINT must use exec form (PID 1 gets SIGTERM)")
					entry = true
				}
			}
			require.True(t, user, "final stage has no USER")
			require.True(t, health, "final stage has no HEALTHCHECK")
			require.True(t, labels, "final stage has no OCI labels")
			require.True(t, entry, "final stage has no ENTRYPOINT")
			for _, in := range ins {
				if in.cmd == "ADD" {
					require.NotRegexp(t, `https?://`, in.args, "line %d: use curl in RUN, not ADD URL", in.line)
				}
				if in.cmd == "RUN" && strings.Contains(in.args, "apt-get install") {
					require.Contains(t, in.args, "--no-install-recommends", "line %d", in.line)
					require.Contains(t, in.args, "rm -rf /var/lib/apt/lists", "line %d", in.line)
				}
			}
		})
	}
}
