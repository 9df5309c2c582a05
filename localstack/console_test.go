package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/shared/toolcheck"
)

// defaultChromium is Debian's Chromium (make setup installs it); the
// browser test never uses a downloaded browser. FACEFLEET_CHROMIUM names
// another system Chromium.
const defaultChromium = "/usr/bin/chromium"

// TestConsoleInBrowser starts `localstack up` (NATS, Redis, S3, the producer
// and a worker as real processes) and runs the console's end-to-end test in
// headless Chromium against it (producer/internal/console/web/e2e): sign in,
// two photos through the stages to succeeded, the UV image and the 3D view,
// a queued and a running job canceled, a refused non-image, a failed job's
// reason and its webhook, a reload, no browser console errors.
// FACEFLEET_CONSOLE_SCREENSHOT=path (relative to the repository root) saves
// a screenshot of the page there (docs/console.png is one).
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	requireTools(t)
	chromiumPath := defaultChromium
	if p := os.Getenv("FACEFLEET_CHROMIUM"); p != "" {
		chromiumPath = p
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		toolcheck.Missing(t, "%s is missing: run `make setup` (apt-get install chromium)", chromiumPath)
		return
	}
	node, err := exec.LookPath("node")
	if err != nil {
		toolcheck.Missing(t, "node not on PATH: run `make setup`")
		return
	}
	web := filepath.Join(testkit.ModuleRoot(t), "producer", "internal", "console", "web")
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core", "package.json")); err != nil {
		toolcheck.Missing(t, "playwright-core is not installed in %s: run `make setup`", web)
		return
	}
	bin := binaries(t)
	data := filepath.Join(t.TempDir(), "data")
	var (
		p  *proc
		pt ports
	)
	for try := 0; ; try++ {
		pt = freePorts(t)
		p = startLocalstack(t, bin, append([]string{"up", "--data", data}, pt.flags()...)...)
		if p.waitFor(t, "try: bin/producer submit", 4*time.Minute) || try == 2 || !strings.Contains(p.errors(), "is in use") {
			break
		}
		t.Logf("retrying with other ports: %s", p.errors())
	}
	p.waitLine(t, "try: bin/producer submit", time.Second)
	key := regexp.MustCompile(`API key "([^"]+)"`).FindStringSubmatch(p.output())
	require.NotNil(t, key, p.output())

	shot := os.Getenv("FACEFLEET_CONSOLE_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "console.png")
	} else if !filepath.IsAbs(shot) {
		shot = filepath.Join(testkit.ModuleRoot(t), shot) // relative to the repository root
	}
	start := time.Now()
	cmd := exec.Command(node, "e2e/console.e2e.mjs",
		"--url", "http://"+hostPort(pt.api), "--key", key[1], "--chromium", chromiumPath,
		"--photo", sample(t, "ddfa_jianzhuguo.jpg"), "--photo", sample(t, "bf_Test3.jpg"),
		"--slow", sample(t, "bf_Test3.jpg"), "--screenshot", shot)
	cmd.Dir = web
	out, err := cmd.CombinedOutput()
	t.Logf("browser test (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	require.NoError(t, err, "the browser test failed")
	require.Contains(t, string(out), "RESULT {\"ok\":true")
	st, err := os.Stat(shot)
	require.NoError(t, err)
	require.Positive(t, st.Size())
}
