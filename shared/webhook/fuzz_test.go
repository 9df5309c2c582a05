package webhook_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/webhook"
)

func FuzzParseSecret(f *testing.F) {
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	f.Add("whsec_")
	f.Add("whsec_====")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := webhook.ParseSecret(s)
		if err != nil {
			require.ErrorIs(t, err, webhook.ErrBadSecret)
			if rest := strings.TrimPrefix(strings.TrimSpace(s), webhook.SecretPrefix); len(rest) >= 8 {
				require.NotContains(t, err.Error(), rest, "a secret must not leak into errors")
			}
			return
		}
		require.GreaterOrEqual(t, len(key), webhook.MinSecretBytes)
		again, err := webhook.ParseSecret(key.String())
		require.NoError(t, err)
		require.Equal(t, key, again)
	})
}

func FuzzParseAllow(f *testing.F) {
	f.Add("127.0.0.0/8,::1")
	f.Add(" 10.0.0.1 , fe80::/10")
	f.Add(",,")
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := webhook.ParseAllow(s)
		if err != nil {
			return
		}
		for _, p := range ps {
			require.True(t, p.IsValid())
			require.Equal(t, p.Masked(), p)
		}
	})
}

// A signature made by Sign always verifies; any other header only when it
// contains that exact signature.
func FuzzVerify(f *testing.F) {
	f.Add("msg_1", []byte(`{"a":1}`), int64(1700000000), "v1,abc")
	f.Fuzz(func(t *testing.T, id string, body []byte, ts int64, other string) {
		key := webhook.Secret("0123456789abcdef0123456789abcdef")
		now := time.Unix(ts, 0)
		sig := webhook.Sign(key, id, ts, body)
		require.NoError(t, webhook.Verify(key, id, strconv.FormatInt(ts, 10), other+" "+sig, body, now, time.Minute))
		if webhook.Verify(key, id, strconv.FormatInt(ts, 10), other, body, now, time.Minute) == nil {
			require.Contains(t, strings.Fields(other), sig)
		}
	})
}
