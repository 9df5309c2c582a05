package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/producer/internal/testenv"
	"github.com/facefleet/facefleet/shared/job"
)

func TestSubmitWebhookFlags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var out, errb bytes.Buffer
	require.NoError(t, run(b.ctx, b.args("submit", testenv.FacePath(t), "--webhook", "https://hooks.example.com/ff",
		"--webhook-events", "started,succeeded"), &out, &errb), errb.String())
	msg := b.takeJob(t)
	require.Equal(t, &job.Webhook{URL: "https://hooks.example.com/ff", Events: []string{"started", "succeeded"}}, msg.Options.Webhook)
	rec, err := b.st.Get(b.ctx, msg.ID)
	require.NoError(t, err)
	require.Contains(t, string(rec.Options), `"webhook":{"url":"https://hooks.example.com/ff"`, "the record keeps the webhook")

	require.NoError(t, run(b.ctx, b.args("submit", testenv.FacePath(t), "--webhook", "https://hooks.example.com/ff"), &out, &errb))
	require.Equal(t, job.DefaultWebhookEvents(), b.takeJob(t).Options.Webhook.Events)

	for _, bad := range [][]string{{"--webhook", "ftp://x/y"}, {"--webhook", "https://e.com/", "--webhook-events", "done"},
		{"--webhook-events", "started"}} {
		err := run(b.ctx, b.args("submit", append([]string{testenv.FacePath(t)}, bad...)...), &out, &errb)
		require.ErrorIs(t, err, ErrUsage, bad)
	}
}
