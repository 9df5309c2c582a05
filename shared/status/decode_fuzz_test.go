package status

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeEvent feeds event payloads (as published by the Lua script) to
// the decoder used by Watch: it must never panic, and anything it accepts
// must round-trip through the record's JSON form.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(`{"id":"a","state":"running","percent":"40","attempts":"1","revision":"3","timings":"{}","outputs":"[]","created_at":"2026-01-02T03:04:05Z"}`)
	f.Add(`{"percent":"x"}`)
	f.Add(`{"outputs":"[\"k\"]","timings":"{\"decode\":1.5}","options":"{\"geometry\":true}"}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, payload string) {
		var fields map[string]string
		if json.Unmarshal([]byte(payload), &fields) != nil {
			return
		}
		rec, err := decodeFields(fields)
		if err != nil {
			return
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatalf("marshal accepted record: %v", err)
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal own output: %v", err)
		}
		if back.ID != rec.ID || back.State != rec.State || back.Percent != rec.Percent || back.Revision != rec.Revision {
			t.Fatalf("round trip changed the record: %+v vs %+v", back, rec)
		}
	})
}
