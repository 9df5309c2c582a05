package webhook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

// BenchmarkNotify is what announcing one event costs the job that makes it:
// the delivery is built and handed to JetStream without waiting for the
// store (real embedded NATS).
func BenchmarkNotify(b *testing.B) {
	env := setupB(b)
	m := message("https://hooks.example.com/h", job.EventProgress)
	id, err := job.NewID()
	require.NoError(b, err)
	rec := status.Record{ID: id, Tenant: "acme", State: status.StateRunning, Stage: "detect", Percent: 20, UpdatedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		rec.Revision++
		env.outbox.Notify(env.ctx, job.EventProgress, m, rec)
	}
	b.StopTimer()
	select {
	case <-env.env.JS.PublishAsyncComplete():
	case <-time.After(10 * time.Second):
		b.Fatal("stores not confirmed")
	}
}
