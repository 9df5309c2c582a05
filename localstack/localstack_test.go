package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/config"
	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/testkit"
)

// sample is the absolute path of a sample photo (a test in this package
// runs the embedded S3 gateway, which changes the working directory).
func sample(t *testing.T, name string) string {
	return filepath.Join(testkit.ModuleRoot(t), "localstack", "samples", name)
}

// copySamples copies the named sample photos into a new directory.
func copySamples(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		b, err := os.ReadFile(sample(t, n))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), b, 0o644))
	}
	return dir
}

// TestDemo runs `localstack demo` as a real process (servers, producer and a
// worker as processes, free ports, a temporary data dir) on the group photo
// and the small one, and checks what it printed and saved.
func TestDemo(t *testing.T) {
	t.Parallel()
	requireTools(t)
	bin := binaries(t)
	images := copySamples(t, "bf_Test3.jpg", "ddfa_jianzhuguo.jpg")
	out := filepath.Join(t.TempDir(), "out")
	data := filepath.Join(t.TempDir(), "data")
	var p *proc
	for try := 0; ; try++ {
		args := append([]string{"demo", "--images", images, "--out", out, "--data", data}, freePorts(t).flags()...)
		p = startLocalstack(t, bin, args...)
		err := p.wait(t, 8*time.Minute)
		if err != nil && try < 2 && strings.Contains(p.errors(), "is in use") {
			// A port chosen free was taken meanwhile (parallel tests).
			t.Logf("retrying with other ports: %s", p.errors())
			continue
		}
		require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", p.output(), p.errors())
		break
	}
	stdout := p.output()
	t.Logf("demo output:\n%s", stdout)

	require.Contains(t, stdout, "all 2 jobs succeeded")
	require.Contains(t, stdout, "stack stopped cleanly")
	require.Regexp(t, `bf_Test3\s+running`, stdout, "watched state changes are printed")
	saved := regexp.MustCompile(`(?m)^  saved to  (.+)$`).FindAllStringSubmatch(stdout, -1)
	require.Len(t, saved, 2)
	wantFaces := map[string]int{"bf_Test3": 3, "ddfa_jianzhuguo": 1}
	for _, m := range saved {
		dir := m[1]
		stem := filepath.Base(dir)
		require.Equal(t, filepath.Join(out, stem), dir)
		data, err := os.ReadFile(filepath.Join(dir, "result.json"))
		require.NoError(t, err)
		var res struct {
			Faces []struct {
				Files map[string]string `json:"files"`
				Pose  *json.RawMessage  `json:"pose"`
			} `json:"faces"`
		}
		require.NoError(t, json.Unmarshal(data, &res))
		require.Len(t, res.Faces, wantFaces[stem], stem)
		for i, f := range res.Faces {
			require.NotNil(t, f.Pose, "%s face %d: geometry was asked for", stem, i)
			for _, kind := range []string{"uv_texture", "mesh_obj", "mesh_glb", "depth", "normals"} {
				rel, ok := f.Files[kind]
				require.True(t, ok, "%s face %d lacks %s", stem, i, kind)
				st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
				require.NoError(t, err, "%s face %d %s downloaded", stem, i, kind)
				require.Positive(t, st.Size())
			}
		}
		png, err := os.ReadFile(filepath.Join(dir, "face-0", "uv_texture.png"))
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")))
	}
	// The temporary data dir given with --data is kept; the servers wrote to it.
	for _, d := range []string{"nats", "s3", "redis"} {
		require.DirExists(t, filepath.Join(data, d))
	}
}

// TestRestartKeepsState: `up` in a temporary data dir, one job through the
// producer client, SIGINT, `up` again on the same dir: the job record and its
// results are still there, and the stack still takes new jobs.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	requireTools(t)
	bin := binaries(t)
	data := t.TempDir()

	var (
		p    *proc
		pt   ports
		args []string
	)
	for try := 0; ; try++ {
		pt = freePorts(t)
		args = append([]string{"up", "--data", data}, pt.flags()...)
		p = startLocalstack(t, bin, args...)
		if p.waitFor(t, "try: bin/producer submit", 4*time.Minute) || try == 2 || !strings.Contains(p.errors(), "is in use") {
			break
		}
		t.Logf("retrying with other ports: %s", p.errors())
	}
	p.waitLine(t, "try: bin/producer submit", time.Second)
	ctx := testkit.Context(t, 4*time.Minute)
	cfg, err := config.LoadProducer(nil, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.NATSURL = "nats://" + hostPort(pt.nats)
	cfg.S3Endpoint = hostPort(pt.s3)
	cfg.RedisAddr = hostPort(pt.redis)
	c, err := client.New(ctx, cfg)
	require.NoError(t, err)
	photo, err := os.Open(sample(t, "ddfa_jianzhuguo.jpg"))
	require.NoError(t, err)
	defer photo.Close()
	rec, err := c.Submit(ctx, client.SubmitRequest{Image: photo, Filename: "ddfa_jianzhuguo.jpg", Options: job.Options{UVSize: 256}})
	require.NoError(t, err)
	done, err := c.Wait(ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, status.StateSucceeded, done.State, "%+v", done)
	c.Close()

	// Redis, the producer and the worker run in process groups of their
	// own, so that a Ctrl-C in the terminal (SIGINT to localstack's group)
	// reaches only localstack, which stops the workers before the servers.
	groups := childGroups(t, p.cmd.Process.Pid)
	for _, name := range []string{"redis-server", "producer", "worker"} {
		pg, ok := groups[name]
		require.True(t, ok, "%s is a child of localstack: %v", name, groups)
		require.NotEqual(t, p.cmd.Process.Pid, pg, "%s in localstack's process group", name)
	}
	require.NoError(t, syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT))
	require.NoError(t, p.wait(t, 2*time.Minute), "stdout:\n%s\nstderr:\n%s", p.output(), p.errors())
	require.Contains(t, p.output(), "stopped cleanly")
	// Every port is free again: nothing was left behind.
	for _, port := range []int{pt.nats, pt.monitor, pt.s3, pt.redis, pt.api, pt.worker} {
		l, err := net.Listen("tcp", hostPort(port))
		require.NoError(t, err, "port %d still taken after stop", port)
		require.NoError(t, l.Close())
	}

	p2 := startLocalstack(t, bin, args...)
	p2.waitLine(t, "try: bin/producer submit", 4*time.Minute)
	c2, err := client.New(ctx, cfg)
	require.NoError(t, err)
	defer c2.Close()
	again, err := c2.Get(ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, status.StateSucceeded, again.State)
	require.Equal(t, done.Outputs, again.Outputs)
	files, err := c2.ResultURLs(ctx, again)
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var resultJSON []byte
	for _, f := range files {
		resp, err := http.Get(f.URL)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, f.Key)
		if f.Name == "result.json" {
			resultJSON = body
		}
	}
	var res struct {
		Faces []json.RawMessage `json:"faces"`
	}
	require.NoError(t, json.Unmarshal(resultJSON, &res))
	require.Len(t, res.Faces, 1)

	// The restarted stack still works (stream, consumers and bucket intact).
	photo2, err := os.Open(sample(t, "ddfa_jianzhuguo.jpg"))
	require.NoError(t, err)
	defer photo2.Close()
	rec2, err := c2.Submit(ctx, client.SubmitRequest{Image: photo2, Options: job.Options{UVSize: 256}})
	require.NoError(t, err)
	done2, err := c2.Wait(ctx, rec2.ID)
	require.NoError(t, err)
	require.Equal(t, status.StateSucceeded, done2.State, "%+v", done2)

	require.NoError(t, p2.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, p2.wait(t, 2*time.Minute))
}

// fakeBin makes a directory with placeholder worker and producer executables
// and a placeholder ONNX Runtime library, enough for Start's checks.
func fakeBin(t *testing.T) (binDir, workDir string) {
	t.Helper()
	binDir, workDir = t.TempDir(), t.TempDir()
	for _, n := range []string{"worker", "producer"} {
		require.NoError(t, os.WriteFile(filepath.Join(binDir, n), []byte("#!/bin/sh\nexit 3\n"), 0o755))
	}
	lib := filepath.Join(workDir, ".cache", "ort", "libonnxruntime.so.1")
	require.NoError(t, os.MkdirAll(filepath.Dir(lib), 0o755))
	require.NoError(t, os.WriteFile(lib, nil, 0o644))
	return binDir, workDir
}

// TestPortInUse: a taken port is reported by name before anything starts.
func TestPortInUse(t *testing.T) {
	t.Parallel()
	binDir, workDir := fakeBin(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	pt := freePorts(t)
	opts := Options{DataDir: t.TempDir(), BinDir: binDir, WorkDir: workDir, NATSPort: pt.nats, NATSMonitorPort: pt.monitor,
		S3Port: busy, RedisPort: pt.redis, APIPort: pt.api, WorkerPort: pt.worker}
	_, err = Start(testkit.Context(t, time.Minute), opts)
	require.ErrorIs(t, err, ErrPortInUse)
	var pe *PortInUseError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "S3", pe.What)
	require.Contains(t, err.Error(), strconv.Itoa(busy))
	require.Contains(t, err.Error(), "another local stack running?")
	entries, err := os.ReadDir(opts.DataDir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing started")

	// Two roles on one port are refused too.
	opts.S3Port = pt.redis
	_, err = Start(testkit.Context(t, time.Minute), opts)
	require.ErrorContains(t, err, "both want port")
}

// TestMissingBinaries names the missing binaries and how to build them.
func TestMissingBinaries(t *testing.T) {
	t.Parallel()
	_, err := Start(testkit.Context(t, time.Minute), Options{DataDir: t.TempDir(), BinDir: t.TempDir(), WorkDir: t.TempDir()})
	require.ErrorContains(t, err, "worker binary not found")
	require.ErrorContains(t, err, "producer binary not found")
	require.ErrorContains(t, err, "make build")
}

// TestChildExitFailsStart: a child that exits during startup fails Start
// with ErrChildExited, and the servers are stopped again (ports free).
func TestChildExitFailsStart(t *testing.T) {
	t.Parallel()
	requireTools(t)
	binDir, workDir := fakeBin(t)
	pt := freePorts(t)
	var out bytes.Buffer
	var mu sync.Mutex
	opts := Options{DataDir: t.TempDir(), BinDir: binDir, WorkDir: workDir, NATSPort: pt.nats, NATSMonitorPort: pt.monitor,
		S3Port: pt.s3, RedisPort: pt.redis, APIPort: pt.api, WorkerPort: pt.worker, Out: &lockedBuf{mu: &mu, b: &out}}
	// Start runs the embedded S3 gateway, which allows one per process and
	// changes the working directory: only this test does it in-process.
	_, err := Start(testkit.Context(t, 2*time.Minute), opts)
	require.ErrorIs(t, err, ErrChildExited)
	require.ErrorContains(t, err, "exit status 3")
	for _, port := range []int{pt.nats, pt.s3, pt.redis} {
		l, err := net.Listen("tcp", hostPort(port))
		require.NoError(t, err, "port %d still taken after a failed start", port)
		require.NoError(t, l.Close())
	}
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedBuf) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestUpUsage: bad command lines are usage errors.
func TestUpUsage(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"up", "--workers", "x"}, &stdout, &stderr)
	require.ErrorIs(t, err, errUsage)
	require.Contains(t, stderr.String(), "-workers")
	err = run(context.Background(), []string{"nope"}, &stdout, &stderr)
	require.ErrorIs(t, err, errUsage)
	require.Contains(t, stderr.String(), `unknown command "nope"`)
	err = run(context.Background(), nil, &stdout, &stderr)
	require.True(t, errors.Is(err, errUsage))
	stdout.Reset()
	require.NoError(t, run(context.Background(), []string{"help"}, &stdout, &stderr))
	require.True(t, strings.HasPrefix(stdout.String(), "usage: localstack"))
}
