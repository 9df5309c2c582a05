// Package webhook announces job events to the HTTP endpoint a job names
// (job.Options.Webhook), following the Standard Webhooks specification
// (https://www.standardwebhooks.com):
//
//   - headers webhook-id (the same on every retry of one event),
//     webhook-timestamp (Unix seconds of the attempt) and webhook-signature
//     ("v1," + base64 HMAC-SHA256 over "<id>.<timestamp>.<body>" with the
//     tenant's secret, "whsec_" + base64 key);
//   - a JSON body {"type":"job.<event>","timestamp":…,"data":{job record,
//     "results":[presigned result URLs]}} — data is what GET /v1/jobs/{id}
//     returns.
//
// Workers hand events to an Outbox, which stores them in a JetStream stream
// (shared/queue: WebhookStream) without waiting; Dispatchers take them from
// there and POST them, retrying with jittered backoff for a bounded time.
// So a slow or dead receiver never blocks a job, and an event survives a
// worker restart. Targets are checked on every connection against a
// Policy: loopback, private, link-local and other non-public addresses are
// refused unless allowed.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every secret's text form.
const SecretPrefix = "whsec_"

// Secret key bounds (bytes), as the specification recommends.
const MinSecretBytes, MaxSecretBytes = 24, 64

// Sentinel errors.
var (
	// ErrBadSecret: a secret is not "whsec_" + base64 of 24..64 bytes.
	ErrBadSecret = errors.New("webhook: bad secret")
	// ErrBadSignature: no signature of the request matches.
	ErrBadSignature = errors.New("webhook: signature mismatch")
	// ErrStale: the request's timestamp is outside the tolerance.
	ErrStale = errors.New("webhook: timestamp outside tolerance")
	// ErrForbiddenTarget: the policy refuses the target's address.
	ErrForbiddenTarget = errors.New("webhook: target address not allowed")
)

// Secret is a tenant's signing key.
type Secret []byte

// ParseSecret reads "whsec_<base64>" (standard base64, 24..64 bytes).
func ParseSecret(s string) (Secret, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: must start with %q", ErrBadSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 after %q", ErrBadSecret, SecretPrefix)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d..%d", ErrBadSecret, len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

// String is the whsec_ form.
func (s Secret) String() string { return SecretPrefix + base64.StdEncoding.EncodeToString(s) }

// Sign returns the webhook-signature value for one attempt:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
func Sign(key Secret, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a received webhook: the timestamp header within tolerance
// of now, and one of the space-separated signatures equal (in constant
// time) to Sign's. It is what a Go receiver needs.
func Verify(key Secret, id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad %s %q", ErrStale, HeaderTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s off by %s", ErrStale, HeaderTimestamp, d.Round(time.Second))
	}
	want := Sign(key, id, ts, body)
	for sig := range strings.FieldsSeq(signatures) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
