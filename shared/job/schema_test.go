package job_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/job"
)

// docs/job.schema.json is the contract third parties read; these tests keep
// it and the Go rules (the owners) saying the same.

func loadSchema(t *testing.T) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "job.schema.json"))
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	require.NoError(t, c.AddResource("job.schema.json", doc))
	s, err := c.Compile("job.schema.json")
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return s, m
}

// at walks a decoded schema by property path: "options.uv_size".
func at(t *testing.T, schema map[string]any, path string) map[string]any {
	t.Helper()
	cur := schema
	for part := range strings.SplitSeq(path, ".") {
		props, ok := cur["properties"].(map[string]any)
		require.True(t, ok, "%s: no properties before %s", path, part)
		cur, ok = props[part].(map[string]any)
		require.True(t, ok, "%s: no property %s", path, part)
	}
	return cur
}

func TestSchemaMatchesRules(t *testing.T) {
	t.Parallel()
	_, s := loadSchema(t)
	num := func(path, key string) float64 {
		v, ok := at(t, s, path)[key].(float64)
		require.True(t, ok, "%s has no numeric %s", path, key)
		return v
	}
	def := job.DefaultOptions()
	require.EqualValues(t, job.Version, at(t, s, "version")["const"])
	require.EqualValues(t, job.MinUVSize, num("options.uv_size", "minimum"))
	require.EqualValues(t, job.MaxUVSize, num("options.uv_size", "maximum"))
	require.EqualValues(t, def.UVSize, num("options.uv_size", "default"))
	require.EqualValues(t, job.MinMaxFaces, num("options.max_faces", "minimum"))
	require.EqualValues(t, job.MaxMaxFaces, num("options.max_faces", "maximum"))
	require.EqualValues(t, def.MaxFaces, num("options.max_faces", "default"))
	require.Equal(t, def.Detector, at(t, s, "options.detector")["default"])
	require.ElementsMatch(t, []any{job.DetectorShort, job.DetectorFull}, at(t, s, "options.detector")["enum"])
	require.Equal(t, def.UVFormat, at(t, s, "options.uv_format")["default"])
	var formats []string
	for _, f := range at(t, s, "options.uv_format")["enum"].([]any) {
		formats = append(formats, f.(string))
	}
	require.Equal(t, job.UVFormats(), formats)
	require.Equal(t, def.Geometry, at(t, s, "options.geometry")["default"])
	require.Equal(t, def.Head, at(t, s, "options.head")["default"])
	require.EqualValues(t, job.MaxTenantLen, num("tenant", "maxLength"))
	require.EqualValues(t, job.MaxKeyLen, num("input.key", "maxLength"))
	require.EqualValues(t, job.MaxWebhookURLLen, num("options.webhook.url", "maxLength"))
	require.EqualValues(t, job.MaxTraceparentLen, num("trace.traceparent", "maxLength"))
	events := at(t, s, "options.webhook.events")
	var items []string
	for _, e := range events["items"].(map[string]any)["enum"].([]any) {
		items = append(items, e.(string))
	}
	require.Equal(t, job.WebhookEvents(), items)
	var defEvents []string
	for _, e := range events["default"].([]any) {
		defEvents = append(defEvents, e.(string))
	}
	require.Equal(t, job.DefaultWebhookEvents(), defEvents)
	require.Equal(t, string(job.PriorityNormal), at(t, s, "priority")["default"])
	var req []string
	for _, r := range s["required"].([]any) {
		req = append(req, r.(string))
	}
	require.ElementsMatch(t, []string{"version", "id", "tenant", "input", "submitted_at"}, req)
	require.Contains(t, s["description"], "16384 bytes")
	require.EqualValues(t, 16384, job.MaxMessageBytes)
	// Every Options field is in the schema.
	var o map[string]any
	b, err := json.Marshal(job.Options{Webhook: &job.Webhook{URL: "https://e.com/"}})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &o))
	for k := range o {
		at(t, s, "options."+k)
	}
}

// Messages the schema accepts decode, and those it refuses do not.
func TestSchemaAgreesWithDecode(t *testing.T) {
	t.Parallel()
	schema, _ := loadSchema(t)
	id, err := job.NewID()
	require.NoError(t, err)
	head := `{"version":1,"id":"` + id + `","tenant":"acme","input":{"bucket":"facefleet","key":"inputs/acme/` + id + `/photo.jpg"},"submitted_at":"2026-01-02T03:04:05Z"`
	full, err := validMessage(t).Encode()
	require.NoError(t, err)
	withHook := validMessage(t)
	withHook.Options.Webhook = &job.Webhook{URL: "https://hooks.example.com/ff?who=a@b", Events: []string{"started"}}
	hook, err := withHook.Encode()
	require.NoError(t, err)
	good := []string{
		string(full), string(hook), head + `}`,
		head + `,"options":{"geometry":true}}`,
		head + `,"options":{"uv_format":"jpeg"}}`,
		head + `,"options":{"uv_format":"webp","uv_size":512}}`,
		head + `,"options":null,"priority":null,"trace":null}`,
		head + `,"priority":"high","options":{"webhook":{"url":"http://127.0.0.1:9000/h"}}}`,
	}
	bad := []string{
		`{}`, `{"version":1}`,
		strings.Replace(head, `"version":1`, `"version":2`, 1) + `}`,
		head + `,"extra":1}`,
		head + `,"options":{"uv_size":0}}`,
		head + `,"options":{"uv_size":8192}}`,
		head + `,"options":{"detector":"mid"}}`,
		head + `,"options":{"uv_format":"gif"}}`,
		head + `,"options":{"uv_format":""}}`,
		head + `,"options":{"uv_format":"PNG"}}`,
		head + `,"options":{"max_faces":17}}`,
		head + `,"options":{"webhook":{"url":"ftp://e.com/"}}}`,
		head + `,"options":{"webhook":{"url":"https://user:pw@e.com/"}}}`,
		head + `,"options":{"webhook":{"url":"https://e.com/#x"}}}`,
		head + `,"options":{"webhook":{"url":"https://e.com/","events":[]}}}`,
		head + `,"options":{"webhook":{"url":"https://e.com/","events":["done"]}}}`,
		head + `,"options":{"webhook":{"url":"https://e.com/","events":["started","started"]}}}`,
		head + `,"priority":"urgent"}`,
		strings.Replace(head, id, strings.ToUpper(id), 2) + `}`,
		strings.Replace(head, `/photo.jpg`, `/../photo.jpg`, 1) + `}`,
		strings.Replace(head, `/photo.jpg`, `//photo.jpg`, 1) + `}`,
		strings.Replace(head, `/photo.jpg`, `/a\\b.jpg`, 1) + `}`,
		strings.Replace(head, `/photo.jpg`, `/a\u0001.jpg`, 1) + `}`,
		strings.Replace(head, `"tenant":"acme"`, `"tenant":"a b"`, 1) + `}`,
		strings.Replace(head, `"bucket":"facefleet"`, `"bucket":"Facefleet"`, 1) + `}`,
		strings.Replace(head, `"bucket":"facefleet"`, `"bucket":"-facefleet"`, 1) + `}`,
		strings.Replace(head, `"bucket":"facefleet"`, `"bucket":"facefleet."`, 1) + `}`,
		strings.Replace(head, `"2026-01-02T03:04:05Z"`, `"yesterday"`, 1) + `}`,
	}
	valid := func(s string) error {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		require.NoError(t, err, s)
		return schema.Validate(inst)
	}
	for _, s := range good {
		require.NoError(t, valid(s), s)
		_, err := job.Decode([]byte(s))
		require.NoError(t, err, s)
	}
	for _, s := range bad {
		require.Error(t, valid(s), "schema accepts %s", s)
		_, err := job.Decode([]byte(s))
		require.Error(t, err, "Decode accepts %s", s)
	}
}
