package devservers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// s3gwPackage is built by SharedS3 unless FACEFLEET_S3GW_BIN names a binary.
const s3gwPackage = "github.com/facefleet/facefleet/shared/devservers/cmd/s3gw"

// buildS3GW returns the path of the cmd/s3gw binary: $FACEFLEET_S3GW_BIN, or
// `go build` into the user cache dir (serialised across test processes with
// flock; an up-to-date binary is not relinked, ~3 s with a warm cache).
func buildS3GW(ctx context.Context) (string, error) {
	if bin := os.Getenv("FACEFLEET_S3GW_BIN"); bin != "" {
		return bin, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "facefleet-devservers")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "s3gw.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("devservers: lock s3gw build: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	bin := filepath.Join(dir, "s3gw")
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, s3gwPackage)
	cmd.Dir = moduleDir()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("devservers: go build %s: %w\n%s", s3gwPackage, err, out.String())
	}
	return bin, nil
}

// moduleDir is the facefleet module root, found from this source file.
func moduleDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// startS3Child runs cmd/s3gw as a child process that dies with this process
// (Pdeathsig, from a goroutine locked to its OS thread for the child's life).
func startS3Child(ctx context.Context, dir, accessKey, secretKey string) (*S3Server, error) {
	bin, err := buildS3GW(ctx)
	if err != nil {
		return nil, err
	}
	type started struct {
		srv *S3Server
		err error
	}
	ch := make(chan started, 1)
	go func() {
		// Pdeathsig fires when the *thread* that forked exits; keep it alive.
		runtime.LockOSThread()
		cmd := exec.Command(bin, "-dir", dir, "-addr", "127.0.0.1:0")
		cmd.Env = append(os.Environ(), "S3GW_ACCESS_KEY="+accessKey, "S3GW_SECRET_KEY="+secretKey)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			ch <- started{err: err}
			return
		}
		if err := cmd.Start(); err != nil {
			ch <- started{err: err}
			return
		}
		done := make(chan struct{})
		lines := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			first := true
			for sc.Scan() {
				if first && strings.HasPrefix(sc.Text(), "ready ") {
					lines <- sc.Text()
					first = false
				}
			}
			close(lines)
		}()
		childCtx, cancel := context.WithCancel(context.Background())
		srv := &S3Server{AccessKey: accessKey, SecretKey: secretKey, Region: "us-east-1", cancel: cancel, done: done}
		go func() {
			<-childCtx.Done()
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}()
		timer := time.NewTimer(30 * time.Second)
		defer timer.Stop()
		select {
		case line, open := <-lines:
			ep, ok := strings.CutPrefix(line, "ready ")
			if !open || !ok {
				_ = cmd.Process.Kill()
				ch <- started{err: fmt.Errorf("s3gw: unexpected output %q", line)}
			} else {
				srv.Endpoint = ep
				ch <- started{srv: srv}
			}
		case <-timer.C:
			_ = cmd.Process.Kill()
			ch <- started{err: fmt.Errorf("%w: s3gw child", ErrNotReady)}
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			ch <- started{err: ctx.Err()}
		}
		srv.err = cmd.Wait()
		cancel()
		close(done)
	}()
	r := <-ch
	return r.srv, r.err
}
