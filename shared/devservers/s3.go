package devservers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
)

// S3Server is an embedded versitygw S3 gateway serving a POSIX directory.
type S3Server struct {
	// Endpoint is host:port without scheme (minio-go style), e.g. 127.0.0.1:9000.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Region reported by the gateway (us-east-1).
	Region string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// StartS3 starts the embedded versitygw gateway serving dir at addr
// ("127.0.0.1:9000"; port 0 picks a free port) and waits until it answers
// HTTP. It stops when ctx is cancelled or Stop is called.
//
// versitygw supports only one gateway per process: a second StartS3 while one
// is running fails with ErrS3Running. Its POSIX backend also changes the
// process working directory to dir (os.Chdir) for the life of the process, so
// call it only from a process that does not rely on relative paths (the local
// stack, cmd/s3gw). Tests use SharedS3 or S3, which run cmd/s3gw as a child.
func StartS3(ctx context.Context, dir, addr, accessKey, secretKey string) (*S3Server, error) {
	if !s3Running.CompareAndSwap(false, true) {
		return nil, ErrS3Running
	}
	s, err := startS3(ctx, dir, addr, accessKey, secretKey)
	if err != nil {
		s3Running.Store(false)
		return nil, err
	}
	go func() {
		<-s.done
		s3Running.Store(false)
	}()
	return s, nil
}

// ErrS3Running is returned by StartS3 while a gateway already runs in this process.
var ErrS3Running = errors.New("devservers: a versitygw gateway already runs in this process")

var s3Running atomic.Bool

func startS3(ctx context.Context, dir, addr, accessKey, secretKey string) (*S3Server, error) {
	if accessKey == "" || secretKey == "" {
		return nil, errors.New("devservers: s3 access and secret key are required")
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("devservers: s3 dir: %w", err)
	}
	if err := os.MkdirAll(absDir, 0o755); err != nil {
		return nil, fmt.Errorf("devservers: s3 dir: %w", err)
	}
	dir = absDir
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("devservers: s3 addr %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if portStr == "0" || portStr == "" {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		portStr = fmt.Sprint(p)
	}
	addr = net.JoinHostPort(host, portStr)
	be, err := posix.New(dir, meta.XattrMeta{}, posix.PosixOpts{})
	if err != nil {
		return nil, fmt.Errorf("devservers: versitygw posix backend at %s: %w", dir, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &S3Server{Endpoint: addr, AccessKey: accessKey, SecretKey: secretKey, Region: "us-east-1",
		cancel: cancel, done: make(chan struct{})}
	cfg := &embedgw.Config{
		RootUserAccess:    accessKey,
		RootUserSecret:    secretKey,
		Region:            s.Region,
		Ports:             []string{addr},
		MaxConnections:    1024,
		MaxRequests:       512,
		MultipartMaxParts: 10000,
		Quiet:             true,
		KeepAlive:         true,
		HealthPath:        "/healthz",
	}
	go func() {
		defer close(s.done)
		defer be.Shutdown()
		s.err = embedgw.RunVersityGW(ctx, be, cfg)
	}()
	if err := s.waitReady(ctx, 10*time.Second); err != nil {
		cancel()
		<-s.done
		if s.err != nil {
			err = errors.Join(err, s.err)
		}
		return nil, fmt.Errorf("%w: s3 at %s: %v", ErrNotReady, addr, err)
	}
	return s, nil
}

func (s *S3Server) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	url := "http://" + s.Endpoint + "/healthz"
	return pollUntil(ctx, s.done, timeout, func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("healthz status %d", resp.StatusCode)
		}
		return nil
	})
}

// Stop stops the gateway and waits for it to return. Safe to call twice.
func (s *S3Server) Stop() {
	s.cancel()
	<-s.done
}

// Done is closed when the gateway has stopped; Err then reports why.
func (s *S3Server) Done() <-chan struct{} { return s.done }

// Err is the gateway's exit error, valid after Done is closed.
func (s *S3Server) Err() error { return s.err }
