package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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

// Requeue turns failed job rec.ID back into a queued one, for an operator
// who resubmits its dead-lettered message (producer dlq retry): error
// fields, stage, percent, a cancel request and start and finish times are
// cleared, and
// rec.Input and rec.Options, when set, replace the recorded ones (the
// corrected message's). A queued or running job is returned unchanged; a
// succeeded or canceled one is ErrTerminal.
func (s *Store) Requeue(ctx context.Context, rec Record) (Record, error) {
	if len(rec.Options) > 0 && !json.Valid(rec.Options) {
		return Record{}, fmt.Errorf("status: requeue %s: options are not valid JSON", rec.ID)
	}
	got, _, err := s.run(ctx, rec.ID, "requeue", rec.Input, string(rec.Options))
	return got, err
}

// StartTenant is Start for a message of tenant: a record of another tenant
// is left alone (ErrStaleTransition; the error's Current names the owner),
// so a message that reuses someone else's job ID never runs on their record.
func (s *Store) StartTenant(ctx context.Context, tenant, id, worker, device string, attempt int) (Record, error) {
	rec, _, err := s.run(ctx, id, "start", worker, device, strconv.Itoa(attempt), tenant)
	return rec, err
}
