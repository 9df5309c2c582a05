package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/devservers"
	"github.com/facefleet/facefleet/shared/testkit"
	"github.com/facefleet/facefleet/shared/toolcheck"
)

// requireTools skips (or fails under FACEFLEET_REQUIRE_TOOLS) when the
// stack's external pieces are missing: redis-server and ONNX Runtime.
func requireTools(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		toolcheck.Missing(t, "redis-server not on PATH: run `make setup`")
	}
	if _, err := findORTLib(os.Getenv("FACEFLEET_ORT_LIB"), testkit.ModuleRoot(t), ""); err != nil {
		toolcheck.Missing(t, "%v", err)
	}
}

var built struct {
	once sync.Once
	dir  string
	err  error
	out  string
}

// binaries builds bin/worker, bin/producer and bin/localstack into one
// directory, once per test process (go build -o; a warm cache relinks only).
func binaries(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "facefleet-localstack-bin-*")
		if built.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", built.dir+string(filepath.Separator), "./worker", "./producer", "./localstack")
		cmd.Dir = testkit.ModuleRoot(t)
		out, err := cmd.CombinedOutput()
		built.err, built.out = err, string(out)
	})
	require.NoError(t, built.err, "go build: %s", built.out)
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// ports are the stack's ports for one test, all free when chosen.
type ports struct{ nats, monitor, s3, redis, api, worker int }

func freePorts(t testing.TB) ports {
	t.Helper()
	seen := map[int]bool{}
	next := func() int {
		for {
			p, err := devservers.FreePort()
			require.NoError(t, err)
			if !seen[p] {
				seen[p] = true
				return p
			}
		}
	}
	return ports{next(), next(), next(), next(), next(), next()}
}

func (p ports) flags() []string {
	return []string{
		"--nats-port", strconv.Itoa(p.nats), "--nats-monitor-port", strconv.Itoa(p.monitor),
		"--s3-port", strconv.Itoa(p.s3), "--redis-port", strconv.Itoa(p.redis),
		"--api-port", strconv.Itoa(p.api), "--worker-port", strconv.Itoa(p.worker),
	}
}

// proc is a localstack process under test with its output collected.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout strings.Builder
	lines  chan string // stdout lines as they come
	done   chan struct{}
	err    error
	stderr strings.Builder
}

// startLocalstack runs bin/localstack with args from the module root.
func startLocalstack(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "localstack"), args...)
	cmd.Dir = testkit.ModuleRoot(t)
	cmd.Env = append(os.Environ(), "FACEFLEET_LOG_LEVEL=info")
	// Its own process group, as a shell gives a foreground job: a signal to
	// the group is what a Ctrl-C in the terminal sends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = &lockedWriter{mu: &p.mu, b: &p.stderr}
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-p.done:
			case <-time.After(2 * time.Minute):
				_ = cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("localstack stdout:\n%s\nstderr:\n%s", p.output(), p.errors())
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func (p *proc) errors() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitLine waits for a stdout line containing want.
func (p *proc) waitLine(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if strings.Contains(p.output(), want) {
			return
		}
		select {
		case <-p.lines:
		case <-p.done:
			if strings.Contains(p.output(), want) {
				return
			}
			t.Fatalf("localstack exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", p.err, want, p.output(), p.errors())
		case <-deadline:
			t.Fatalf("no %q within %s", want, timeout)
		}
	}
}

// waitFor reports whether a stdout line containing want came before the
// process exited; it fails the test on timeout.
func (p *proc) waitFor(t *testing.T, want string, timeout time.Duration) bool {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if strings.Contains(p.output(), want) {
			return true
		}
		select {
		case <-p.lines:
		case <-p.done:
			return strings.Contains(p.output(), want)
		case <-deadline:
			t.Fatalf("no %q within %s", want, timeout)
		}
	}
}

// wait waits for the process to exit and returns its error.
func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("localstack did not exit within %s", timeout)
		return nil
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(b)
}

// childGroups returns, for every direct child process of pid, its command
// name and process group ID (from /proc).
func childGroups(t *testing.T, pid int) map[string]int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	out := map[string]int{}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid pgrp ...
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if len(fields) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		pgrp, _ := strconv.Atoi(fields[2])
		if ppid == pid {
			out[s[open+1:closing]] = pgrp
		}
	}
	return out
}
