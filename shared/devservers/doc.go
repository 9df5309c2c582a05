// Package devservers starts real servers for tests and for the local stack:
// an embedded NATS server with JetStream, an embedded versitygw S3 gateway
// over a POSIX directory, and a redis-server child process.
//
// Production-style entry points (StartNATS, StartS3, StartRedis) take explicit
// options and return handles with a Shutdown/Stop method. Test helpers (NATS,
// Redis, S3) return ready clients and register cleanup with t.Cleanup.
//
// Only one versitygw gateway can run per process, so S3 test helpers share a
// single process-wide gateway (SharedS3) and give each test its own bucket.
package devservers
