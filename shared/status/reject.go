package status

import (
	"context"
	"errors"
	"fmt"
)

// Reject marks the job failed with code and msg because its message was
// refused (undecodable, invalid) or failed for good. With no record, one is
// created, already failed, from rec (ID, Tenant, Input, Options, CreatedAt),
// so that a sender who published without the producer learns why. An
// existing record is failed like Fail does, but only when its tenant is
// rec.Tenant: a record of another tenant is left alone
// (ErrStaleTransition), so a stray message cannot fail someone else's job;
// a finished one is ErrTerminal.
func (s *Store) Reject(ctx context.Context, rec Record, code, msg string) (Record, error) {
	if rec.ID == "" {
		return Record{}, errors.New("status: reject: empty id")
	}
	fields, err := s.newRecordFields(rec)
	if err != nil {
		return Record{}, fmt.Errorf("status: reject %s: %w", rec.ID, err)
	}
	if err := s.index(ctx, rec.Tenant, rec.ID); err != nil {
		return Record{}, err
	}
	got, _, err := s.run(ctx, rec.ID, "reject", append([]any{code, msg, rec.Tenant}, fields...)...)
	return got, err
}

// Requeue turns a failed job back into a queued one, for an operator who
// resubmits its dead-lettered message (producer dlq retry): error fields,
// stage, percent and finish time are cleared. A queued or running job is
// returned unchanged; a succeeded or canceled one is ErrTerminal.
func (s *Store) Requeue(ctx context.Context, id string) (Record, error) {
	rec, _, err := s.run(ctx, id, "requeue")
	return rec, err
}
