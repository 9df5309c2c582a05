package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/queue"
	"github.com/facefleet/facefleet/shared/status"
)

// ErrDeadLetterNotFound: no dead letter with that sequence number. It
// matches queue.ErrDeadLetterNotFound.
var ErrDeadLetterNotFound = queue.ErrDeadLetterNotFound

// DeadLetters lists up to limit messages of the dead-letter stream with
// sequence ≥ from, oldest first: what the workers refused or gave up on.
func (c *Client) DeadLetters(ctx context.Context, from uint64, limit int) ([]queue.DeadLetter, error) {
	return c.queue.DeadLetters(ctx, from, limit)
}

// DeadLetter returns one dead letter by sequence.
func (c *Client) DeadLetter(ctx context.Context, seq uint64) (queue.DeadLetter, error) {
	return c.queue.GetDeadLetter(ctx, seq)
}

// DeleteDeadLetter discards one dead letter.
func (c *Client) DeleteDeadLetter(ctx context.Context, seq uint64) error {
	return c.queue.DeleteDeadLetter(ctx, seq)
}

// RetryDeadLetter resubmits dead letter seq: its own payload, or fixed (a
// corrected job message) when not nil. The message must now decode as a
// valid job; its record is turned back from failed to queued (or created
// when there is none), the message is published again to its priority
// subject and the dead letter is deleted. A job that succeeded or was
// canceled, or whose record belongs to another tenant, is refused.
func (c *Client) RetryDeadLetter(ctx context.Context, seq uint64, fixed []byte) (status.Record, error) {
	d, err := c.queue.GetDeadLetter(ctx, seq)
	if err != nil {
		return status.Record{}, err
	}
	data := d.Data
	if fixed != nil {
		data = fixed
	}
	m, err := job.Decode(data)
	if err != nil {
		return status.Record{}, newError(errcode.InvalidJob, ErrInvalidRequest,
			fmt.Sprintf("client: dead letter %d is not a valid job message: %v", seq, err), err)
	}
	opts, err := json.Marshal(m.Options)
	if err != nil {
		return status.Record{}, err
	}
	fresh := status.Record{ID: m.ID, Tenant: m.Tenant, Input: m.Input.Key, Options: opts, CreatedAt: m.SubmittedAt}
	rec, err := c.status.Get(ctx, m.ID)
	switch {
	case errors.Is(err, status.ErrNotFound):
		rec, _, err = c.status.Create(ctx, fresh)
	case err != nil:
	case rec.Tenant != m.Tenant:
		return status.Record{}, newError(errcode.Conflict, ErrInvalidRequest,
			fmt.Sprintf("client: job %s belongs to tenant %q, the message says %q", m.ID, rec.Tenant, m.Tenant))
	default:
		rec, err = c.status.Requeue(ctx, fresh)
	}
	if err != nil {
		return rec, mapStatusErr(err)
	}
	if _, err := c.queue.Resubmit(ctx, m, seq); err != nil {
		if _, ferr := c.status.Fail(context.WithoutCancel(ctx), m.ID, errcode.PublishFailed.String(), err.Error()); ferr != nil {
			c.log.Error("mark unpublished retry failed", slog.Any("err", ferr))
		}
		return status.Record{}, fmt.Errorf("client: resubmit %s: %w", m.ID, err)
	}
	if err := c.queue.DeleteDeadLetter(ctx, seq); err != nil {
		c.log.Warn("retried dead letter not deleted", slog.Uint64("seq", seq), slog.Any("err", err))
	}
	c.log.Info("dead letter resubmitted", slog.Uint64("seq", seq), slog.String("job_id", m.ID))
	return rec, nil
}
