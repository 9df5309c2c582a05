package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/producer/internal/testenv"
	"github.com/facefleet/facefleet/shared/job"
)

// The webhook option goes through the API in both submit forms.
func TestSubmitWithWebhook(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	body, ct := multipartBody(t, testenv.FaceJPEG(t), `{"webhook":{"url":"https://hooks.example.com/ff","events":["started","failed"]}}`)
	resp, data := b.do(t, "POST", "/v1/jobs", keyAcme, body, ct)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(data))
	var rec struct {
		ID      string
		Options job.Options
	}
	require.NoError(t, json.Unmarshal(data, &rec))
	require.Equal(t, &job.Webhook{URL: "https://hooks.example.com/ff", Events: []string{"started", "failed"}}, rec.Options.Webhook)
	require.Equal(t, job.DefaultUVSize, rec.Options.UVSize, "the other options keep their defaults")

	body, ct = multipartBody(t, testenv.FaceJPEG(t), `{"webhook":{"url":"ftp://hooks.example.com/ff"}}`)
	resp, data = b.do(t, "POST", "/v1/jobs", keyAcme, body, ct)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(data))
	require.Equal(t, "invalid_options", errorCode(t, data))
	require.Contains(t, string(data), "options.webhook.url")

	body, ct = multipartBody(t, testenv.FaceJPEG(t), `{"webhook":{"url":"https://e.com/","events":["finished"]}}`)
	resp, data = b.do(t, "POST", "/v1/jobs", keyAcme, body, ct)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, string(data))
	require.Contains(t, string(data), "options.webhook.events")
}
