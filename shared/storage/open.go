package storage

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
)

// ObjectInfo describes an opened object.
type ObjectInfo struct {
	Size        int64
	ContentType string
	ETag        string
	ModTime     time.Time
}

// Open streams an object (ErrNotFound when it is missing). The caller closes
// the reader.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("storage: stat %s: %w", key, mapErr(err))
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("storage: get %s: %w", key, mapErr(err))
	}
	ct := info.ContentType
	if ct == "" || ct == "application/octet-stream" || ct == "binary/octet-stream" {
		ct = ContentType(key)
	}
	return obj, ObjectInfo{Size: info.Size, ContentType: ct, ETag: info.ETag, ModTime: info.LastModified}, nil
}
