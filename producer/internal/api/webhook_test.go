package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

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

// docs/openapi.yaml's Options and Webhook schemas name every field of
// job.Options and every webhook event.
func TestOpenAPIOptionsMatchJob(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../docs/openapi.yaml")
	require.NoError(t, err)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Default any      `json:"default"`
					Enum    []string `json:"enum"`
					Items   struct {
						Enum []string `json:"enum"`
					} `json:"items"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	b, err := json.Marshal(job.Options{Webhook: &job.Webhook{URL: "https://e.com/"}})
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	opts := doc.Components.Schemas["Options"].Properties
	for k := range fields {
		require.Contains(t, opts, k, "Options.%s is not in docs/openapi.yaml", k)
	}
	require.Len(t, opts, len(fields))
	require.Equal(t, job.UVFormats(), opts["uv_format"].Enum)
	require.Equal(t, job.DefaultUVFormat, opts["uv_format"].Default)
	events := doc.Components.Schemas["Webhook"].Properties["events"]
	require.Equal(t, job.WebhookEvents(), events.Items.Enum)
	require.EqualValues(t, job.DefaultWebhookEvents(), toStrings(events.Default))
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
