// Package devservers starts real servers for tests and for the local stack:
// an embedded NATS server with JetStream, an embedded versitygw S3 gateway
// over a POSIX directory, and a redis-server child process.
//
// Production-style entry points (StartNATS, StartS3, StartRedis) take explicit
// options and return handles with a Shutdown/Stop method. The package does
// not import testing (a test keeps it so), so the binaries that start servers
// do not link it: the per-test helpers that return ready clients and
// register cleanup (NATS, Redis, S3) are in shared/testkit.
//
// Only one versitygw gateway can run per process, so tests share a single
// process-wide gateway (SharedS3Server, a child process) and give each test
// its own bucket.
package devservers
