package deploy_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Webhook settings reach the workers: the allow list and retry window in
// the worker ConfigMap, the signing secrets as a file from an existing
// Secret (never a value in the chart).
func TestHelmWebhooks(t *testing.T) {
	t.Parallel()
	r := render(t)
	wcm := r.configMaps["ff-facefleet-worker"]
	require.NotNil(t, wcm)
	require.Equal(t, "", wcm.Data["FACEFLEET_WEBHOOK_ALLOW"], "public targets only by default")
	require.Equal(t, "24h", wcm.Data["FACEFLEET_WEBHOOK_RETRY_FOR"])
	require.NotContains(t, wcm.Data, "FACEFLEET_WEBHOOK_SECRETS_FILE")

	vals := filepath.Join(t.TempDir(), "webhooks.yaml")
	require.NoError(t, os.WriteFile(vals, []byte("worker:\n  webhooks:\n    existingSecret: ff-webhooks\n    key: tenants\n    allow: 10.20.0.0/16\n    retryFor: 6h\n"), 0o600))
	r = render(t, vals)
	wcm = r.configMaps["ff-facefleet-worker"]
	require.Equal(t, "10.20.0.0/16", wcm.Data["FACEFLEET_WEBHOOK_ALLOW"])
	require.Equal(t, "6h", wcm.Data["FACEFLEET_WEBHOOK_RETRY_FOR"])
	require.Equal(t, "/etc/facefleet/webhooks/tenants", wcm.Data["FACEFLEET_WEBHOOK_SECRETS_FILE"])
	pod := r.deployments["ff-facefleet-worker"].Spec.Template.Spec
	var secretName string
	for _, v := range pod.Volumes {
		if v.Name == "webhook-secrets" && v.Secret != nil {
			secretName = v.Secret.SecretName
		}
	}
	require.Equal(t, "ff-webhooks", secretName)
	mounted := false
	for _, m := range pod.Containers[0].VolumeMounts {
		mounted = mounted || (m.Name == "webhook-secrets" && m.MountPath == "/etc/facefleet/webhooks" && m.ReadOnly)
	}
	require.True(t, mounted)
}
