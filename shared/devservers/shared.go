package devservers

import (
	"context"
	"os"
	"sync"
)

var shared struct {
	once sync.Once
	srv  *S3Server
	err  error
}

// Credentials of the process-wide test gateway.
const (
	TestAccessKey = "facefleet-test"
	TestSecretKey = "facefleet-test-secret"
)

// SharedS3Server returns the process-wide versitygw gateway, starting it on
// first use (random port, data in a temporary directory). It runs cmd/s3gw
// as a child process (built with `go build` on first use, or
// $FACEFLEET_S3GW_BIN), because the embedded gateway would chdir the
// process. The child dies with the process. Tests use it through
// shared/testkit (SharedS3, S3: a bucket per test).
func SharedS3Server() (*S3Server, error) {
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "facefleet-s3-*")
		if err != nil {
			shared.err = err
			return
		}
		shared.srv, shared.err = startS3Child(context.Background(), dir, TestAccessKey, TestSecretKey)
	})
	return shared.srv, shared.err
}
