package storage

import (
	"context"
	"strings"
)

// ResultFile is one output of a succeeded job, as the HTTP API, the CLI and
// webhooks show it.
type ResultFile struct {
	// Name is the path under results/<job-id>/, e.g. "face-0/uv_texture.png".
	Name string `json:"name"`
	// Key is the full S3 key.
	Key string `json:"key"`
	// URL is a presigned GET URL valid for Config.PresignExpiry.
	URL string `json:"url"`
}

// PresignResults presigns the results of job jobID: keys (full keys, or
// names relative to results/<jobID>/), or when keys is empty every object
// under that prefix.
func (s *Store) PresignResults(ctx context.Context, jobID string, keys []string) ([]ResultFile, error) {
	if len(keys) == 0 {
		var err error
		if keys, err = s.ListResults(ctx, jobID); err != nil {
			return nil, err
		}
	}
	prefix := ResultPrefix(jobID)
	out := make([]ResultFile, 0, len(keys))
	for _, key := range keys {
		if !strings.HasPrefix(key, prefix) {
			key = prefix + key
		}
		u, err := s.PresignGet(ctx, key)
		if err != nil {
			return nil, err
		}
		out = append(out, ResultFile{Name: strings.TrimPrefix(key, prefix), Key: key, URL: u})
	}
	return out, nil
}
