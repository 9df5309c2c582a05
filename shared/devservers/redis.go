package devservers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// ErrRedisNotInstalled is returned when no redis-server binary is on PATH.
var ErrRedisNotInstalled = errors.New("devservers: redis-server not found on PATH (apt-get install -y redis-server)")

// RedisServer is a redis-server child process.
type RedisServer struct {
	// Addr is host:port, e.g. 127.0.0.1:6379.
	Addr    string
	cmd     *exec.Cmd
	done    chan struct{}
	durable bool
	log     *bytes.Buffer
}

// StartRedis starts redis-server on 127.0.0.1 and waits until PING answers.
//
// With dir == "" the server is ephemeral (no RDB snapshots, --appendonly no);
// otherwise it is durable: data and the append-only file live in dir
// (--dir DIR --appendonly yes --appendfsync everysec). port 0 picks a free
// port. The process is killed when ctx is cancelled, when Stop is called,
// or when the calling process dies (Pdeathsig).
func StartRedis(ctx context.Context, dir string, port int) (*RedisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrRedisNotInstalled
	}
	if port == 0 {
		port, err = FreePort()
		if err != nil {
			return nil, err
		}
	}
	args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--daemonize", "no",
		"--databases", "16", "--loglevel", "warning", "--protected-mode", "yes"}
	if dir == "" {
		args = append(args, "--save", "", "--appendonly", "no")
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("devservers: redis dir: %w", err)
		}
		args = append(args, "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec")
	}
	return startRedisProc(ctx, bin, port, args, dir != "")
}

// startRedisProc runs redis-server with args (they must make it listen on
// 127.0.0.1:port) and waits until PING answers.
func startRedisProc(ctx context.Context, bin string, port int, args []string, durable bool) (*RedisServer, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.CommandContext(ctx, bin, args...)
	var logBuf bytes.Buffer
	cmd.Stdout = &logBuf
	cmd.Stderr = &logBuf
	// Own process group: a Ctrl-C in the terminal must not stop Redis before
	// the parent has let its workers drain (the parent stops it with Stop).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("devservers: start redis-server: %w", err)
	}
	s := &RedisServer{Addr: addr, cmd: cmd, done: make(chan struct{}), log: &logBuf, durable: durable}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitPing(ctx, 10*time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w: redis at %s: %v (log: %s)", ErrNotReady, addr, err, logBuf.String())
	}
	return s, nil
}

// waitPing polls PING until +PONG or the timeout.
func (s *RedisServer) waitPing(ctx context.Context, timeout time.Duration) error {
	return pollUntil(ctx, s.done, timeout, func() error { return ping(s.Addr) })
}

// pollUntil calls check until it returns nil, backing off from 2 ms to 10 ms
// between calls. It gives up with check's last error at the timeout, when ctx
// ends, or when exited is closed (the server process is gone).
func pollUntil(ctx context.Context, exited <-chan struct{}, timeout time.Duration, check func() error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	delay := 2 * time.Millisecond
	for {
		lastErr := check()
		if lastErr == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-exited:
			t.Stop()
			return errors.New("server exited")
		case <-deadline.C:
			t.Stop()
			return lastErr
		case <-t.C:
		}
		delay = min(delay*2, 10*time.Millisecond)
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected PING reply %q", line)
	}
	return nil
}

// Stop stops the server and waits for it to exit: SIGTERM for a durable
// server (it flushes its append-only file), SIGKILL for an ephemeral one
// (nothing to keep; saves ~80 ms). Safe to call twice.
func (s *RedisServer) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	if !s.durable {
		_ = s.cmd.Process.Kill()
		<-s.done
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Kill sends SIGKILL (no shutdown, nothing flushed) and waits for the exit.
func (s *RedisServer) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Done is closed when the process has exited.
func (s *RedisServer) Done() <-chan struct{} { return s.done }

// FreePort asks the kernel for a free TCP port on 127.0.0.1. There is a small
// window in which another process could take it.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("devservers: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
