// Package storage keeps job inputs and results in S3 (minio-go).
//
// Layout in one bucket: inputs/<job-id>/<sanitised filename> for uploads and
// results/<job-id>/<relative path> for outputs (result.json,
// face-<i>/uv_texture.png, …).
package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/facefleet/facefleet/shared/job"
)

// Sentinel errors.
var (
	// ErrNotFound: no such object (or bucket).
	ErrNotFound = errors.New("storage: object not found")
	// ErrTooLarge: the object is larger than the caller's limit.
	ErrTooLarge = errors.New("storage: object too large")
	// ErrInvalidKey: a key or path segment failed validation.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrInvalidConfig wraps every Config problem.
	ErrInvalidConfig = errors.New("storage: invalid config")
)

// Config of a Store.
type Config struct {
	// Endpoint is host:port of the S3 API, no scheme. Default "127.0.0.1:9000".
	Endpoint string
	// AccessKey and SecretKey are static credentials. Required.
	AccessKey string
	SecretKey string
	// Bucket holding inputs and results. Default "facefleet".
	Bucket string
	// UseTLS selects https. Default false.
	UseTLS bool
	// Region of the bucket. Default "us-east-1".
	Region string
	// PresignExpiry is the lifetime of presigned URLs. Default 15m (max 7 days).
	PresignExpiry time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Endpoint == "" {
		c.Endpoint = "127.0.0.1:9000"
	}
	if c.Bucket == "" {
		c.Bucket = "facefleet"
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.PresignExpiry == 0 {
		c.PresignExpiry = 15 * time.Minute
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	if c.Endpoint == "" || strings.Contains(c.Endpoint, "://") {
		bad("Endpoint must be host:port without scheme, got %q", c.Endpoint)
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		bad("AccessKey and SecretKey are required")
	}
	if c.Bucket == "" {
		bad("Bucket is required")
	}
	if c.PresignExpiry < time.Second || c.PresignExpiry > 7*24*time.Hour {
		bad("PresignExpiry must be 1s..168h, got %s", c.PresignExpiry)
	}
	return errors.Join(errs...)
}

// Store reads and writes objects in one bucket.
type Store struct {
	client *minio.Client
	cfg    Config
}

// New returns a Store for cfg (defaults applied). It does not dial.
func New(cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseTLS,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: client: %w", err)
	}
	return &Store{client: client, cfg: cfg}, nil
}

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.cfg.Bucket }

// Client exposes the minio client (for tests and tools).
func (s *Store) Client() *minio.Client { return s.client }

// EnsureBucket creates the bucket if it does not exist. Idempotent.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("storage: bucket %s: %w", s.cfg.Bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.cfg.Bucket, minio.MakeBucketOptions{Region: s.cfg.Region})
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		return fmt.Errorf("storage: make bucket %s: %w", s.cfg.Bucket, err)
	}
	return nil
}

// SanitizeFilename reduces a client-supplied file name to a safe single path
// segment: the base name only, letters/digits/'.'/'-'/'_' kept, everything else
// replaced by '_', at most 128 bytes, never "", "." or "..".
func SanitizeFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)), r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 128 {
			break
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		return "upload"
	}
	return out
}

// InputKey returns inputs/<tenant>/<jobID>/<sanitised filename>. Uploads live
// under their tenant's prefix, so a job that references an existing key under
// inputs/<tenant>/ can only ever read that tenant's own objects.
func InputKey(tenant, jobID, filename string) string {
	return job.InputPrefix(tenant) + jobID + "/" + SanitizeFilename(filename)
}

// ResultPrefix returns results/<jobID>/.
func ResultPrefix(jobID string) string { return "results/" + jobID + "/" }

// ResultKey returns results/<jobID>/<rel>, refusing a rel that is absolute,
// empty or escapes the prefix (ErrInvalidKey).
func ResultKey(jobID, rel string) (string, error) {
	if jobID == "" || strings.ContainsAny(jobID, "/\\") || jobID == "." || jobID == ".." {
		return "", fmt.Errorf("%w: job id %q", ErrInvalidKey, jobID)
	}
	key := ResultPrefix(jobID) + rel
	if err := job.ValidateKey(key); err != nil || rel == "" || path.Clean(rel) != rel {
		return "", fmt.Errorf("%w: result path %q", ErrInvalidKey, rel)
	}
	return key, nil
}

// ContentType returns the MIME type for a key's extension (.json, .png, .obj,
// .mtl, .glb, .jpg/.jpeg, .webp), or application/octet-stream.
func ContentType(key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".json":
		return "application/json"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	case ".obj":
		return "model/obj"
	case ".mtl":
		return "model/mtl"
	case ".glb":
		return "model/gltf-binary"
	}
	return "application/octet-stream"
}

// PutInput uploads an input image under InputKey(tenant, jobID, filename) and
// returns the key. contentType "" is derived from the file name.
func (s *Store) PutInput(ctx context.Context, tenant, jobID, filename string, r io.Reader, size int64, contentType string) (string, error) {
	key := InputKey(tenant, jobID, filename)
	return key, s.Put(ctx, key, r, size, contentType)
}

// Put uploads an object. size -1 streams with unknown length (multipart);
// contentType "" is derived from the key's extension.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := job.ValidateKey(key); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	if contentType == "" {
		contentType = ContentType(key)
	}
	_, err := s.client.PutObject(ctx, s.cfg.Bucket, key, r, size, minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("storage: put %s: %w", key, mapErr(err))
	}
	return nil
}

// PutBytes uploads b as an object.
func (s *Store) PutBytes(ctx context.Context, key string, b []byte, contentType string) error {
	return s.Put(ctx, key, bytes.NewReader(b), int64(len(b)), contentType)
}

// Get reads a whole object of at most maxBytes (ErrTooLarge otherwise,
// checked with a Stat before reading and enforced while reading).
func (s *Store) Get(ctx context.Context, key string, maxBytes int64) ([]byte, error) {
	info, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("storage: stat %s: %w", key, mapErr(err))
	}
	if info.Size > maxBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, key, info.Size, maxBytes)
	}
	obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("storage: get %s: %w", key, mapErr(err))
	}
	defer obj.Close()
	buf := bytes.NewBuffer(make([]byte, 0, info.Size))
	n, err := io.Copy(buf, io.LimitReader(obj, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("storage: get %s: %w", key, mapErr(err))
	}
	if n > maxBytes {
		return nil, fmt.Errorf("%w: %s grew past %d bytes", ErrTooLarge, key, maxBytes)
	}
	return buf.Bytes(), nil
}

// Exists reports whether key exists.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	_, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if err = mapErr(err); errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return false, fmt.Errorf("storage: stat %s: %w", key, err)
}

// ListResults returns the keys under results/<jobID>/, sorted.
func (s *Store) ListResults(ctx context.Context, jobID string) ([]string, error) {
	var keys []string
	for obj := range s.client.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: ResultPrefix(jobID), Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("storage: list %s: %w", ResultPrefix(jobID), mapErr(obj.Err))
		}
		keys = append(keys, obj.Key)
	}
	sort.Strings(keys)
	return keys, nil
}

// PresignGet returns a URL that GETs key without credentials for
// Config.PresignExpiry. It does not check that the object exists.
func (s *Store) PresignGet(ctx context.Context, key string) (string, error) {
	u, err := s.client.PresignedGetObject(ctx, s.cfg.Bucket, key, s.cfg.PresignExpiry, url.Values{})
	if err != nil {
		return "", fmt.Errorf("storage: presign %s: %w", key, err)
	}
	return u.String(), nil
}

// Delete removes key (no error if it is absent).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.cfg.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("storage: delete %s: %w", key, mapErr(err))
	}
	return nil
}

// mapErr wraps S3 "not found" responses with ErrNotFound.
func mapErr(err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey" || resp.Code == "NoSuchBucket" || resp.Code == "NotFound" ||
		(resp.StatusCode == http.StatusNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
