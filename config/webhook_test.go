package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWebhookSettings(t *testing.T) {
	t.Parallel()
	sec := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef01234567"))
	file := filepath.Join(t.TempDir(), "secrets")
	require.NoError(t, os.WriteFile(file, []byte("# comment\nacme:"+sec+"\n"), 0o600))
	w, err := LoadWorker([]string{"--webhook-secrets", "*:" + sec + ",beta:" + sec, "--webhook-secrets-file", file,
		"--webhook-allow", "127.0.0.0/8,::1"}, nil)
	require.NoError(t, err)
	keys, err := w.LoadWebhookSecrets()
	require.NoError(t, err)
	require.Len(t, keys, 3)
	require.Equal(t, sec, keys["acme"].String())
	p, err := w.WebhookPolicy()
	require.NoError(t, err)
	require.Len(t, p.Allow, 2)
	require.NotContains(t, w.String(), sec, "secrets are redacted")

	_, err = LoadWorker([]string{"--webhook-secrets", "acme:whsec_c2hvcnQ=,bad tenant:" + sec + ",acme2", "--webhook-allow", "intranet",
		"--webhook-timeout", "2m"}, nil)
	require.ErrorIs(t, err, ErrInvalid)
	for _, want := range []string{"webhook_secrets", "line 1", "line 2", "line 3", "webhook_allow", "webhook_timeout"} {
		require.ErrorContains(t, err, want)
	}
	require.False(t, strings.Contains(err.Error(), "c2hvcnQ"), "a secret leaked into the error")
	_, err = ParseWebhookSecrets("a:" + sec + "\na:" + sec)
	require.ErrorContains(t, err, "listed twice")
}
