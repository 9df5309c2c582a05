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
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("storage: get %s: %w", key, mapErr(err))
	}
	return obj, info, nil
}

// Stat describes key without reading it (an error wrapping ErrNotFound when
// it is missing). ContentType falls back to the one the key's extension
// names when the object was stored without a specific one.
func (s *Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("storage: stat %s: %w", key, mapErr(err))
	}
	ct := info.ContentType
	if ct == "" || ct == "application/octet-stream" || ct == "binary/octet-stream" {
		ct = ContentType(key)
	}
	return ObjectInfo{Size: info.Size, ContentType: ct, ETag: info.ETag, ModTime: info.LastModified}, nil
}
