package status_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/status"
)

func TestRejectCreatesFailedRecord(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := uuid.Must(uuid.NewV7()).String()
	rec, err := b.st.Reject(b.ctx, status.Record{ID: id, Tenant: "acme", Input: "inputs/acme/x.jpg"}, "invalid_job", "bad version")
	require.NoError(t, err)
	require.Equal(t, status.StateFailed, rec.State)
	require.Equal(t, "invalid_job", rec.ErrorCode)
	require.Equal(t, "bad version", rec.ErrorMessage)
	require.Equal(t, "acme", rec.Tenant)
	require.Equal(t, "inputs/acme/x.jpg", rec.Input)
	require.False(t, rec.FinishedAt.IsZero())
	require.EqualValues(t, 1, rec.Revision)
	ttl, err := b.st.TTL(b.ctx, id)
	require.NoError(t, err)
	require.Positive(t, ttl)
	got, err := b.st.Get(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, rec, got)
	// Terminal: a second rejection or a late start changes nothing.
	_, err = b.st.Reject(b.ctx, status.Record{ID: id, Tenant: "acme"}, "other", "x")
	require.ErrorIs(t, err, status.ErrTerminal)
	_, err = b.st.Start(b.ctx, id, "w", "cpu", 1)
	require.ErrorIs(t, err, status.ErrTerminal)
}

func TestRejectExistingRecord(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newRecord(t, b) // tenant acme, queued
	// Another tenant's message with this ID must not touch the record.
	_, err := b.st.Reject(b.ctx, status.Record{ID: rec.ID, Tenant: "mallory"}, "invalid_job", "x")
	require.ErrorIs(t, err, status.ErrStaleTransition)
	_, err = b.st.Reject(b.ctx, status.Record{ID: rec.ID}, "invalid_job", "x")
	require.ErrorIs(t, err, status.ErrStaleTransition, "a message without a readable tenant neither")
	got, err := b.st.Get(b.ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, rec, got)
	// The owner's: failed, the fields of the record kept.
	failed, err := b.st.Reject(b.ctx, status.Record{ID: rec.ID, Tenant: "acme", Input: "changed"}, "image_undecodable", "not an image")
	require.NoError(t, err)
	require.Equal(t, status.StateFailed, failed.State)
	require.Equal(t, rec.Input, failed.Input)
	require.Equal(t, rec.CreatedAt, failed.CreatedAt)
	require.Equal(t, rec.Revision+1, failed.Revision)
}

func TestRequeue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newRecord(t, b)
	same, err := b.st.Requeue(b.ctx, status.Record{ID: rec.ID})
	require.NoError(t, err, "a queued job stays queued")
	require.Equal(t, rec.Revision, same.Revision)
	_, err = b.st.Start(b.ctx, rec.ID, "w", "cpu", 3)
	require.NoError(t, err)
	_, err = b.st.RequestCancel(b.ctx, rec.ID) // running: only requested
	require.NoError(t, err)
	_, err = b.st.Fail(b.ctx, rec.ID, "input_not_found", "no such key")
	require.NoError(t, err)
	q, err := b.st.Requeue(b.ctx, status.Record{ID: rec.ID, Input: "inputs/acme/fixed.jpg", Options: []byte(`{"uv_size":512}`)})
	require.NoError(t, err)
	require.Equal(t, status.StateQueued, q.State)
	require.Equal(t, "inputs/acme/fixed.jpg", q.Input, "the corrected message's input")
	require.JSONEq(t, `{"uv_size":512}`, string(q.Options))
	require.Equal(t, rec.CreatedAt, q.CreatedAt)
	require.Empty(t, q.ErrorCode)
	require.Empty(t, q.ErrorMessage)
	require.True(t, q.FinishedAt.IsZero())
	require.False(t, q.CancelRequested, "a resubmitted job starts without the old cancel request")
	// It runs again from the first delivery of the resubmitted message.
	r, err := b.st.Start(b.ctx, rec.ID, "w", "cpu", 1)
	require.NoError(t, err)
	require.Equal(t, status.StateRunning, r.State)
	_, err = b.st.Succeed(b.ctx, rec.ID, nil, nil)
	require.NoError(t, err)
	_, err = b.st.Requeue(b.ctx, status.Record{ID: rec.ID})
	require.ErrorIs(t, err, status.ErrTerminal, "a succeeded job is never requeued")
	_, err = b.st.Requeue(b.ctx, status.Record{ID: "nope"})
	require.ErrorIs(t, err, status.ErrNotFound)
}

func TestStartTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := newRecord(t, b) // tenant acme
	_, err := b.st.StartTenant(b.ctx, "mallory", rec.ID, "w", "cpu", 1)
	var te *status.TransitionError
	require.ErrorAs(t, err, &te)
	require.ErrorIs(t, err, status.ErrStaleTransition)
	require.Equal(t, "acme", te.Current.Tenant)
	got, err := b.st.Get(b.ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, rec, got, "another tenant's message changed the record")
	r, err := b.st.StartTenant(b.ctx, "acme", rec.ID, "w", "cpu", 1)
	require.NoError(t, err)
	require.Equal(t, status.StateRunning, r.State)
}
