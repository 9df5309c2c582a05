package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/facefleet/facefleet/shared/job"
)

// ErrDeadLetterNotFound: no dead letter with that sequence number.
var ErrDeadLetterNotFound = errors.New("queue: dead letter not found")

// Rejection says why a message is dead-lettered.
type Rejection struct {
	// Reason is the human-readable reason (also the Term reason).
	Reason string
	// Code is the machine error code (the job's status error_code).
	Code string
	// JobID is the job's ID when it could be read from the message, else "".
	JobID string
}

// DeadLetter copies msg (payload and every original header) to the
// dead-letter stream, adding the reason, code, job ID, delivery count,
// original subject, stream sequence and Nats-Msg-Id. It does not
// acknowledge msg: the caller then calls msg.TermWithReason (or Ack).
// Dead-lettering the same delivery twice stores one copy.
func (q *Queue) DeadLetter(ctx context.Context, msg jetstream.Msg, r Rejection) error {
	out := nats.NewMsg(q.cfg.DeadLetterSubject())
	out.Data = msg.Data()
	for k, vs := range msg.Headers() {
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	// The original ID is kept under its own name: as Nats-Msg-Id it would
	// de-duplicate dead letters against each other.
	if id := out.Header.Get(jetstream.MsgIDHeader); id != "" {
		out.Header.Set(HeaderDLQMsgID, id)
	}
	out.Header.Del(jetstream.MsgIDHeader)
	out.Header.Del(jetstream.ExpectedStreamHeader)
	out.Header.Set(HeaderDLQReason, r.Reason)
	if r.Code != "" {
		out.Header.Set(HeaderDLQCode, r.Code)
	}
	if r.JobID != "" {
		out.Header.Set(HeaderDLQJobID, r.JobID)
	}
	out.Header.Set(HeaderDLQSubject, msg.Subject())
	out.Header.Set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(q.cfg.DeadLetterStream)}
	md, mdErr := msg.Metadata()
	if mdErr == nil {
		out.Header.Set(HeaderDLQDeliveries, strconv.FormatUint(md.NumDelivered, 10))
		out.Header.Set(HeaderDLQStreamSeq, strconv.FormatUint(md.Sequence.Stream, 10))
		opts = append(opts, jetstream.WithMsgID(fmt.Sprintf("dlq-%s-%d", md.Stream, md.Sequence.Stream)))
	}
	// With its Nats-Msg-Id a dead letter is retried like a job (one copy).
	if _, _, err := q.publishRetrying(ctx, out, mdErr == nil, opts...); err != nil {
		return fmt.Errorf("queue: dead-letter: %w", err)
	}
	return nil
}

// DeadLetter is one message in the dead-letter stream.
type DeadLetter struct {
	// Seq is its sequence in the dead-letter stream (what show, retry and
	// delete take).
	Seq uint64 `json:"seq"`
	// Time it was dead-lettered.
	Time time.Time `json:"time"`
	// Reason, Code and JobID as given to DeadLetter ("" when unknown).
	Reason string `json:"reason"`
	Code   string `json:"code,omitempty"`
	JobID  string `json:"job_id,omitempty"`
	// Deliveries is how many times the message had been delivered.
	Deliveries uint64 `json:"deliveries"`
	// Subject is the subject it was published to.
	Subject string `json:"subject"`
	// Header holds every header: the original ones and the Facefleet-Dlq-* ones.
	Header nats.Header `json:"header"`
	// Data is the original payload, unchanged.
	Data []byte `json:"data"`
}

func deadLetterOf(raw *jetstream.RawStreamMsg) DeadLetter {
	h := raw.Header
	if h == nil {
		h = nats.Header{}
	}
	d := DeadLetter{Seq: raw.Sequence, Time: raw.Time, Reason: h.Get(HeaderDLQReason), Code: h.Get(HeaderDLQCode),
		JobID: h.Get(HeaderDLQJobID), Subject: h.Get(HeaderDLQSubject), Header: h, Data: raw.Data}
	d.Deliveries, _ = strconv.ParseUint(h.Get(HeaderDLQDeliveries), 10, 64)
	return d
}

func (q *Queue) deadLetterStream(ctx context.Context) (jetstream.Stream, error) {
	s, err := q.js.Stream(ctx, q.cfg.DeadLetterStream)
	if err != nil {
		return nil, fmt.Errorf("queue: dead-letter stream %s: %w", q.cfg.DeadLetterStream, err)
	}
	return s, nil
}

// DeadLetters lists up to limit dead letters with sequence ≥ from, oldest first.
func (q *Queue) DeadLetters(ctx context.Context, from uint64, limit int) ([]DeadLetter, error) {
	s, err := q.deadLetterStream(ctx)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	seq := max(from, 1)
	for len(out) < limit {
		raw, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(q.cfg.DeadLetterSubject()))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("queue: dead letters: %w", err)
		}
		out = append(out, deadLetterOf(raw))
		seq = raw.Sequence + 1
	}
	return out, nil
}

// GetDeadLetter returns the dead letter with sequence seq
// (ErrDeadLetterNotFound when there is none).
func (q *Queue) GetDeadLetter(ctx context.Context, seq uint64) (DeadLetter, error) {
	s, err := q.deadLetterStream(ctx)
	if err != nil {
		return DeadLetter{}, err
	}
	raw, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("%w: %d", ErrDeadLetterNotFound, seq)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("queue: dead letter %d: %w", seq, err)
	}
	return deadLetterOf(raw), nil
}

// DeleteDeadLetter removes the dead letter with sequence seq.
func (q *Queue) DeleteDeadLetter(ctx context.Context, seq uint64) error {
	s, err := q.deadLetterStream(ctx)
	if err != nil {
		return err
	}
	// The server reports a missing message only as a failed deletion.
	if _, err := s.GetMsg(ctx, seq); errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: %d", ErrDeadLetterNotFound, seq)
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		return fmt.Errorf("queue: delete dead letter %d: %w", seq, err)
	}
	return nil
}

// Resubmit publishes m (a fixed copy of dead letter dlqSeq) to its
// priority subject. Its Nats-Msg-Id is "<job id>.retry.<dlqSeq>", so that
// the job's own ID inside the duplicate window does not swallow it and
// retrying the same dead letter twice publishes once.
func (q *Queue) Resubmit(ctx context.Context, m *job.Message, dlqSeq uint64) (duplicate bool, err error) {
	return q.publish(ctx, m, fmt.Sprintf("%s.retry.%d", m.ID, dlqSeq))
}
