package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrChildExited reports a worker or producer process that stopped while the
// stack still needed it.
var ErrChildExited = errors.New("localstack: child process exited")

// child is one worker or producer process started by the stack.
type child struct {
	name    string
	readyz  string // URL answering 200 once the process is ready
	cmd     *exec.Cmd
	out     *prefixWriter
	done    chan struct{}
	waitErr error
}

// startChild starts bin with args in dir, with env appended to the stack's
// environment, its output prefixed with "[name] " on out. The child gets its
// own process group, so a Ctrl-C in the terminal reaches only localstack,
// which then stops the children in order; it is killed if localstack dies.
func startChild(name, bin, dir string, args, env []string, readyz string, out io.Writer, mu *sync.Mutex) (*child, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	pw := &prefixWriter{prefix: []byte("[" + name + "] "), w: out, mu: mu}
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localstack: start %s (%s): %w", name, bin, err)
	}
	c := &child{name: name, readyz: readyz, cmd: cmd, out: pw, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		pw.flush()
		close(c.done)
	}()
	return c, nil
}

// exitError describes how the child ended; valid once done is closed.
func (c *child) exitError() error {
	if c.waitErr != nil {
		return fmt.Errorf("%w: %s: %v", ErrChildExited, c.name, c.waitErr)
	}
	return fmt.Errorf("%w: %s exited with status 0", ErrChildExited, c.name)
}

// waitReady polls the child's readyz URL until it answers 200, the child
// exits, ctx is done or timeout passes.
func (c *child) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	delay := 20 * time.Millisecond
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.readyz, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-c.done:
			t.Stop()
			return c.exitError()
		case <-deadline.C:
			t.Stop()
			return fmt.Errorf("localstack: %s not ready at %s after %s: %v", c.name, c.readyz, timeout, last)
		case <-t.C:
		}
		delay = min(delay*2, 250*time.Millisecond)
	}
}

// stop sends SIGTERM (the child drains), waits until it exits or timeout
// passes, then kills it. It returns the exit error unless the exit was the
// expected result of the SIGTERM.
func (c *child) stop(timeout time.Duration) error {
	select {
	case <-c.done:
		return c.waitErr
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
		var ee *exec.ExitError
		if errors.As(c.waitErr, &ee) && !ee.Exited() { // ended by the signal itself
			return nil
		}
		return c.waitErr
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("localstack: %s did not stop within %s after SIGTERM; killed", c.name, timeout)
	}
}

// prefixWriter writes whole lines to w, each prefixed, under a mutex shared
// by every child so that lines of different processes never interleave.
type prefixWriter struct {
	prefix []byte
	w      io.Writer
	mu     *sync.Mutex
	buf    []byte // the incomplete last line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := p.buf[:i+1]
		if _, err := p.w.Write(append(append([]byte{}, p.prefix...), line...)); err != nil {
			return len(b), nil //nolint:nilerr // losing a log line must not kill the child
		}
		p.buf = p.buf[i+1:]
	}
	if len(p.buf) == 0 {
		p.buf = nil
	}
	return len(b), nil
}

// flush writes an unterminated last line, if any.
func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		_, _ = p.w.Write(append(append(append([]byte{}, p.prefix...), p.buf...), '\n'))
		p.buf = nil
	}
}
