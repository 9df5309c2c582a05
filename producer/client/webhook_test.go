package client_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/producer/client"
	"github.com/facefleet/facefleet/producer/internal/testenv"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/webhook"
)

// A job canceled while queued never reaches a worker, so the client
// announces it: the event waits in the webhook stream for a dispatcher.
func TestCancelQueuedAnnouncesWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec, err := b.c.Submit(b.ctx, client.SubmitRequest{Image: bytes.NewReader(testenv.FaceJPEG(t)),
		Options: job.Options{Webhook: &job.Webhook{URL: "https://hooks.example.com/ff"}}})
	require.NoError(t, err)
	canceled, err := b.c.Cancel(b.ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, status.StateCanceled, canceled.State)

	cons, err := b.env.NATS.JS.Consumer(b.ctx, queue.DefaultConfig().WebhookStream, queue.WebhookConsumer)
	require.NoError(t, err)
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	var got []jetstream.Msg
	for m := range batch.Messages() {
		got = append(got, m)
	}
	require.Len(t, got, 1)
	var p webhook.Payload
	require.NoError(t, json.Unmarshal(got[0].Data(), &p))
	require.Equal(t, "job.canceled", p.Type)
	require.Equal(t, rec.ID, p.Data.ID)
	require.Equal(t, webhook.ID(canceled), got[0].Headers().Get("Facefleet-Webhook-Id"))
}
