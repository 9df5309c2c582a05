package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

// childArgsEnv carries the `worker run` flags (JSON) to a re-executed test
// binary; see TestFleetChildProcess.
const childArgsEnv = "FACEFLEET_TEST_FLEET_CHILD_ARGS"

// TestFleetChildProcess is not a test of its own: it is the worker process
// that TestFleetWorkerKilledMidJob starts (the os.Args[0] re-exec pattern)
// and kills. Without the environment variable it skips.
func TestFleetChildProcess(t *testing.T) {
	raw := os.Getenv(childArgsEnv)
	if raw == "" {
		t.Skip("helper process for TestFleetWorkerKilledMidJob")
	}
	var args []string
	require.NoError(t, json.Unmarshal([]byte(raw), &args))
	ctx, stop := signal.NotifyContext(t.Context(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	require.NoError(t, runFleet(ctx, args, os.Stdout, os.Stderr, nil))
}

// lockedBuffer is a concurrency-safe log sink for a child's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startChild runs `worker run` with args in a child process.
func startChild(t *testing.T, args []string, log *lockedBuffer) *exec.Cmd {
	t.Helper()
	enc, err := json.Marshal(args)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(enc))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// TestFleetWorkerKilledMidJob: a worker process SIGKILLed while a job runs
// leaves its message unacknowledged; JetStream redelivers it after AckWait to
// a second worker, which completes it exactly once.
func TestFleetWorkerKilledMidJob(t *testing.T) {
	if os.Getenv(childArgsEnv) != "" {
		t.Skip("inside the child")
	}
	t.Parallel()
	ortLib(t) // skips early without ONNX Runtime
	e := newFleetEnv(t, 2*time.Second)
	var log1, log2 lockedBuffer
	defer func() { t.Logf("first worker:\n%s\nsecond worker:\n%s", log1.String(), log2.String()) }()

	first := startChild(t, e.args(t, freeAddr(t), "victim"), &log1)
	// A slow job: the 3913×1901 photo with geometry and a 4096² texture.
	id := e.submit(t, fleetPhoto(t, "ddfa_emma.jpg"), job.Options{Geometry: true, UVSize: 4096})
	e.waitRecord(t, id, 60*time.Second, func(r status.Record) bool { return r.State == status.StateRunning })
	require.NoError(t, first.Process.Signal(syscall.SIGKILL))
	_ = first.Wait()
	killed, err := e.status.Get(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, status.StateRunning, killed.State, "the job finished before the kill; the test proves nothing")
	require.Equal(t, 1, killed.Attempts)

	startChild(t, e.args(t, freeAddr(t), "survivor"), &log2)
	r := e.waitRecord(t, id, 90*time.Second, func(r status.Record) bool { return r.State.Terminal() })
	require.Equal(t, status.StateSucceeded, r.State, "%+v", r)
	require.Equal(t, 2, r.Attempts, "one redelivery")
	require.Equal(t, "survivor", r.Worker)

	// Exactly one set of outputs: what the status lists is what S3 holds.
	keys, err := e.store.ListResults(t.Context(), id)
	require.NoError(t, err)
	outs := append([]string(nil), r.Outputs...)
	sort.Strings(outs)
	require.Equal(t, outs, keys)
	require.Contains(t, keys, "results/"+id+"/face-0/mesh.glb")
	require.Eventually(t, func() bool {
		lag, err := e.q.Lag(t.Context())
		return err == nil && lag.Total() == 0
	}, 30*time.Second, 20*time.Millisecond, "the message must be acked")
}
