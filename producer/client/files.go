package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/shared/storage"
)

// ErrFileNotFound: the job has no such input or result file (or it is gone
// from the bucket).
var ErrFileNotFound = errors.New("client: no such file")

// List returns up to limit of the tenant's jobs, newest first, after the job
// ID before ("" = from the newest); next is the before of the following
// page, "" at the end (status.Store.List).
func (c *Client) List(ctx context.Context, tenant, before string, limit int) (recs []status.Record, next string, err error) {
	return c.status.List(ctx, tenant, before, limit)
}

// OpenInput streams the job's uploaded image.
func (c *Client) OpenInput(ctx context.Context, rec status.Record) (io.ReadCloser, storage.ObjectInfo, error) {
	if rec.Input == "" {
		return nil, storage.ObjectInfo{}, newError(errcode.NotFound, ErrFileNotFound, "client: the job has no input")
	}
	return c.open(ctx, rec.Input)
}

// OpenResult streams one result of a succeeded job, by its name under
// results/<id>/ (a ResultFile.Name, e.g. "face-0/mesh.glb").
func (c *Client) OpenResult(ctx context.Context, rec status.Record, name string) (io.ReadCloser, storage.ObjectInfo, error) {
	if rec.State != status.StateSucceeded {
		return nil, storage.ObjectInfo{}, newError(errcode.NotFound, ErrFileNotFound, "client: only a succeeded job has results")
	}
	key, err := storage.ResultKey(rec.ID, name)
	if err != nil {
		return nil, storage.ObjectInfo{}, newError(errcode.NotFound, ErrFileNotFound, fmt.Sprintf("client: no result %q", name), err)
	}
	if len(rec.Outputs) > 0 && !slices.ContainsFunc(rec.Outputs, func(o string) bool {
		return o == key || storage.ResultPrefix(rec.ID)+strings.TrimPrefix(o, "/") == key
	}) {
		return nil, storage.ObjectInfo{}, newError(errcode.NotFound, ErrFileNotFound, fmt.Sprintf("client: no result %q", name))
	}
	return c.open(ctx, key)
}

func (c *Client) open(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	r, info, err := c.store.Open(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, info, newError(errcode.NotFound, ErrFileNotFound, "client: "+key+" is not in the bucket", err)
	}
	return r, info, err
}
