package job_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
)

func validMessage(t testing.TB) *job.Message {
	t.Helper()
	m, err := job.New("acme", job.Input{Bucket: "facefleet", Key: "inputs/acme/photo.jpg"},
		job.Options{Geometry: true}, "", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	require.NoError(t, err)
	return m
}

func TestNewIDIsV7AndOrdered(t *testing.T) {
	t.Parallel()
	a, err := job.NewID()
	require.NoError(t, err)
	b, err := job.NewID()
	require.NoError(t, err)
	ua, err := uuid.Parse(a)
	require.NoError(t, err)
	require.Equal(t, uuid.Version(7), ua.Version())
	require.Less(t, a, b, "UUIDv7 strings sort by creation time")
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	m := validMessage(t)
	m.Trace = &job.Trace{Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	b, err := m.Encode()
	require.NoError(t, err)
	got, err := job.Decode(b)
	require.NoError(t, err)
	require.Equal(t, m, got)
	require.Equal(t, job.PriorityNormal, got.Priority)
	require.Equal(t, job.Options{Geometry: true, UVSize: 1024, UVFormat: "png", Detector: "short", MaxFaces: job.DefaultMaxFaces}, got.Options)
}

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	good, err := validMessage(t).Encode()
	require.NoError(t, err)
	var obj map[string]any
	require.NoError(t, json.Unmarshal(good, &obj))
	mutate := func(f func(map[string]any)) []byte {
		c := map[string]any{}
		b, _ := json.Marshal(obj)
		_ = json.Unmarshal(b, &c)
		f(c)
		out, _ := json.Marshal(c)
		return out
	}
	tests := []struct {
		name string
		in   []byte
		want error
		fld  string
	}{
		{"unknown field", mutate(func(m map[string]any) { m["extra"] = 1 }), job.ErrMalformed, ""},
		{"unknown nested", mutate(func(m map[string]any) { m["options"].(map[string]any)["x"] = 1 }), job.ErrMalformed, ""},
		{"wrong type", mutate(func(m map[string]any) { m["tenant"] = 5 }), job.ErrMalformed, ""},
		{"not json", []byte("{"), job.ErrMalformed, ""},
		{"array", []byte("[]"), job.ErrMalformed, ""},
		{"trailing", append(append([]byte{}, good...), []byte(" {}")...), job.ErrMalformed, ""},
		{"too large", []byte(`{"x":"` + strings.Repeat("a", job.MaxMessageBytes) + `"}`), job.ErrTooLarge, ""},
		{"version 2", mutate(func(m map[string]any) { m["version"] = 2 }), job.ErrUnsupportedVersion, ""},
		{"missing id", mutate(func(m map[string]any) { delete(m, "id") }), job.ErrInvalid, "id"},
		{"null input", mutate(func(m map[string]any) { m["input"] = nil }), job.ErrInvalid, "input"},
		{"missing version", mutate(func(m map[string]any) { delete(m, "version") }), job.ErrInvalid, "version"},
		{"bad priority", mutate(func(m map[string]any) { m["priority"] = "urgent" }), job.ErrInvalid, "priority"},
		{"uv too big", mutate(func(m map[string]any) { m["options"].(map[string]any)["uv_size"] = 8192 }), job.ErrInvalid, "options.uv_size"},
		{"traversal", mutate(func(m map[string]any) { m["input"].(map[string]any)["key"] = "inputs/../etc" }), job.ErrInvalid, "input.key"},
		{"not v7", mutate(func(m map[string]any) { m["id"] = uuid.NewString() }), job.ErrInvalid, "id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := job.Decode(tc.in)
			require.ErrorIs(t, err, tc.want)
			if tc.fld != "" {
				var fe *job.FieldError
				require.ErrorAs(t, err, &fe)
				require.Contains(t, fieldsOf(err), tc.fld)
			}
		})
	}
}

func fieldsOf(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *job.FieldError
		if errors.As(e, &fe) {
			out = append(out, fe.Field)
		}
	}
	walk(err)
	return out
}

func TestValidateReportsAllProblems(t *testing.T) {
	t.Parallel()
	m := &job.Message{Version: 1, Options: job.Options{UVSize: 1, UVFormat: "tiff", Detector: "huge", MaxFaces: 99}, Priority: "x"}
	err := m.Validate()
	require.ErrorIs(t, err, job.ErrInvalid)
	require.ElementsMatch(t, []string{"id", "tenant", "input.bucket", "input.key", "options.uv_size",
		"options.uv_format", "options.detector", "options.max_faces", "priority", "submitted_at"}, fieldsOf(err))
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	ok := []string{"a", "inputs/0190/photo.jpg", "a..b/c.d", strings.Repeat("k", job.MaxKeyLen), "ünïcode/ß.png"}
	bad := []string{"", "/abs", "a/../b", "..", "a/./b", "a//b", "a\x00b", "tab\there", "a\x7f", "a\\b",
		strings.Repeat("k", job.MaxKeyLen+1), "bad\xffutf8"}
	for _, k := range ok {
		require.NoError(t, job.ValidateKey(k), k)
	}
	for _, k := range bad {
		err := job.ValidateKey(k)
		require.ErrorIs(t, err, job.ErrInvalid, "%q", k)
	}
}

func TestOptionsBounds(t *testing.T) {
	t.Parallel()
	base := job.Options{}.WithDefaults()
	require.NoError(t, base.Validate())
	for _, uv := range []int{256, 4096} {
		o := base
		o.UVSize = uv
		require.NoError(t, o.Validate())
	}
	for _, uv := range []int{255, 4097, -1} {
		o := base
		o.UVSize = uv
		require.ErrorIs(t, o.Validate(), job.ErrInvalid)
	}
	for _, n := range []int{0, 17} {
		o := base
		o.MaxFaces = n
		require.ErrorIs(t, o.Validate(), job.ErrInvalid)
	}
	o := base
	o.Detector = job.DetectorFull
	require.NoError(t, o.Validate())
}

func FuzzDecode(f *testing.F) {
	good, err := validMessage(f).Encode()
	require.NoError(f, err)
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"id":null}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := job.Decode(data)
		if err != nil {
			require.Nil(t, m)
			require.True(t, errors.Is(err, job.ErrInvalid) || errors.Is(err, job.ErrMalformed) ||
				errors.Is(err, job.ErrTooLarge) || errors.Is(err, job.ErrUnsupportedVersion), "untyped error: %v", err)
			return
		}
		// Anything accepted must be valid and survive a round trip.
		require.NoError(t, m.Validate())
		b, err := m.Encode()
		require.NoError(t, err)
		m2, err := job.Decode(b)
		require.NoError(t, err)
		require.Equal(t, m, m2)
	})
}

func BenchmarkDecode(b *testing.B) {
	data, err := validMessage(b).Encode()
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := job.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// A message written by hand (any language, any NATS client) may omit options
// and priority, or some option fields: they take the documented defaults.
func TestDecodeDefaults(t *testing.T) {
	t.Parallel()
	id, err := job.NewID()
	require.NoError(t, err)
	head := `{"version":1,"id":"` + id + `","tenant":"acme","input":{"bucket":"facefleet","key":"inputs/acme/` + id +
		`/photo.jpg"},"submitted_at":"2026-01-02T03:04:05Z"`
	def := job.DefaultOptions()
	tests := []struct {
		name string
		tail string
		want job.Options
		prio job.Priority
	}{
		{"no options, no priority", `}`, def, job.PriorityNormal},
		{"null options and priority", `,"options":null,"priority":null}`, def, job.PriorityNormal},
		{"empty options", `,"options":{},"priority":"low"}`, def, job.PriorityLow},
		{"geometry only", `,"options":{"geometry":true}}`, job.Options{Geometry: true, UVSize: job.DefaultUVSize,
			UVFormat: job.DefaultUVFormat, Detector: job.DefaultDetector, MaxFaces: job.DefaultMaxFaces}, job.PriorityNormal},
		{"head", `,"options":{"head":true}}`, job.Options{Head: true, UVSize: job.DefaultUVSize,
			UVFormat: job.UVFormatPNG, Detector: job.DetectorShort, MaxFaces: job.DefaultMaxFaces}, job.PriorityNormal},
		{"some fields", `,"options":{"uv_size":512,"detector":"full"}}`, job.Options{UVSize: 512,
			UVFormat: job.DefaultUVFormat, Detector: job.DetectorFull, MaxFaces: job.DefaultMaxFaces}, job.PriorityNormal},
		{"uv_format", `,"options":{"uv_format":"webp"}}`, job.Options{UVSize: job.DefaultUVSize,
			UVFormat: job.UVFormatWebP, Detector: job.DefaultDetector, MaxFaces: job.DefaultMaxFaces}, job.PriorityNormal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := job.Decode([]byte(head + tc.tail))
			require.NoError(t, err)
			require.Equal(t, tc.want, m.Options)
			require.Equal(t, tc.prio, m.Priority)
		})
	}
	// An explicit zero is a value, not an omission: it is refused.
	_, err = job.Decode([]byte(head + `,"options":{"uv_size":0}}`))
	require.ErrorIs(t, err, job.ErrInvalid)
	require.Equal(t, []string{"options.uv_size"}, fieldsOf(err))
	_, err = job.Decode([]byte(head + `,"options":{"uv_format":""}}`))
	require.ErrorIs(t, err, job.ErrInvalid)
	require.Equal(t, []string{"options.uv_format"}, fieldsOf(err))
	// Unknown option fields stay an error.
	_, err = job.Decode([]byte(head + `,"options":{"uvsize":512}}`))
	require.ErrorIs(t, err, job.ErrMalformed)
	// The required fields are still required.
	_, err = job.Decode([]byte(`{"version":1}`))
	require.ElementsMatch(t, []string{"id", "tenant", "input", "submitted_at"}, fieldsOf(err))
}

func TestValidID(t *testing.T) {
	t.Parallel()
	id, err := job.NewID()
	require.NoError(t, err)
	require.True(t, job.ValidID(id))
	for _, bad := range []string{"", uuid.NewString(), strings.ToUpper(id), id + "x", "../../etc/passwd", "{" + id + "}"} {
		require.False(t, job.ValidID(bad), bad)
	}
}

func TestWebhookOption(t *testing.T) {
	t.Parallel()
	base := job.DefaultOptions()
	with := func(w job.Webhook) job.Options {
		o := base
		o.Webhook = &w
		return o
	}
	ok := []job.Webhook{
		{URL: "https://hooks.example.com/facefleet?x=1"},
		{URL: "http://127.0.0.1:9999/h", Events: []string{job.EventStarted, job.EventProgress}},
		{URL: "https://[2001:db8::1]:8443/h", Events: job.WebhookEvents()},
	}
	for _, w := range ok {
		require.NoError(t, with(w).Validate(), w.URL)
	}
	bad := map[string]job.Webhook{
		"options.webhook.url":    {URL: ""},
		"options.webhook.events": {URL: "https://e.com/", Events: []string{"done"}},
	}
	for field, w := range bad {
		require.Equal(t, []string{field}, fieldsOf(with(w).Validate()), w)
	}
	for _, u := range []string{"ftp://e.com/x", "/relative", "https://user:pw@e.com/", "https://e.com/#frag",
		"https:///nohost", "https://e.com/a b", "mailto:x@e.com", "https://e.com/" + strings.Repeat("a", job.MaxWebhookURLLen)} {
		require.Equal(t, []string{"options.webhook.url"}, fieldsOf(with(job.Webhook{URL: u}).Validate()), u)
	}
	require.Equal(t, []string{"options.webhook.events"},
		fieldsOf(with(job.Webhook{URL: "https://e.com/", Events: []string{"started", "started"}}).Validate()))
	require.Equal(t, []string{"options.webhook.events"},
		fieldsOf(with(job.Webhook{URL: "https://e.com/", Events: []string{}}).Validate()))

	// Omitted events are the terminal ones, in decoded and in Go-built options.
	var o job.Options
	require.NoError(t, json.Unmarshal([]byte(`{"webhook":{"url":"https://e.com/h"}}`), &o))
	require.Equal(t, job.DefaultWebhookEvents(), o.Webhook.Events)
	require.True(t, o.Webhook.Wants(job.EventFailed))
	require.False(t, o.Webhook.Wants(job.EventStarted))
	shared := &job.Webhook{URL: "https://e.com/h"}
	d := job.Options{Webhook: shared}.WithDefaults()
	require.Equal(t, job.DefaultWebhookEvents(), d.Webhook.Events)
	require.Nil(t, shared.Events, "WithDefaults must not change the caller's webhook")
	require.ErrorContains(t, json.Unmarshal([]byte(`{"webhook":{"url":"https://e.com/h","secret":"x"}}`), &o), "unknown field")
	var none *job.Webhook
	require.False(t, none.Wants(job.EventSucceeded))
}

func TestInputUnderTenantPrefix(t *testing.T) {
	t.Parallel()
	m := validMessage(t)
	require.Equal(t, "inputs/acme/", job.InputPrefix("acme"))
	for _, k := range []string{"inputs/globex/a.jpg", "results/0190/result.json", "inputs/acmex/a.jpg", "a.jpg"} {
		m.Input.Key = k
		require.Equal(t, []string{"input.key"}, fieldsOf(m.Validate()), k)
	}
	m.Input.Key = "inputs/acme/0190/a.jpg"
	require.NoError(t, m.Validate())
}

func TestHeadImpliesGeometry(t *testing.T) {
	t.Parallel()
	require.False(t, job.DefaultOptions().WantsGeometry())
	require.True(t, job.Options{Geometry: true}.WantsGeometry())
	require.True(t, job.Options{Head: true}.WantsGeometry())
	require.False(t, job.DefaultOptions().Head)
}

// TestTenantAndBucketRules: job owns both tenant rules (a message's, and the
// producer's, which has no '.') and the bucket rule config checks too.
func TestTenantAndBucketRules(t *testing.T) {
	t.Parallel()
	for s, want := range map[string][2]bool{ // {ValidTenant, ValidProducerTenant}
		"acme": {true, true}, "a-b_C9": {true, true}, "acme.eu": {true, false}, "..": {true, false},
		"": {false, false}, "a b": {false, false}, "a/b": {false, false}, strings.Repeat("a", 65): {false, false},
		strings.Repeat("a", 64): {true, true},
	} {
		require.Equal(t, want[0], job.ValidTenant(s), "ValidTenant(%q)", s)
		require.Equal(t, want[1], job.ValidProducerTenant(s), "ValidProducerTenant(%q)", s)
	}
	for s, want := range map[string]bool{
		"facefleet": true, "a.b-c": true, "abc": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "Facefleet": false, "-abc": false, "abc-": false,
		".abc": false, "a_b": false,
	} {
		require.Equal(t, want, job.ValidBucket(s), "ValidBucket(%q)", s)
	}
}
