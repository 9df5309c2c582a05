package fleet

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/status"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

type codeErr struct{ code string }

func (e codeErr) Error() string { return "coded: " + e.code }
func (e codeErr) Code() string  { return e.code }

func TestDecide(t *testing.T) {
	t.Parallel()
	retry := func(attempt int) time.Duration { return time.Duration(attempt) * time.Second }
	transient := errors.New("s3: connection reset")
	for _, tc := range []struct {
		name string
		in   Outcome
		want Action
	}{
		{"success acks", Outcome{NumDelivered: 1, MaxDeliver: 5}, Action{Verb: Ack, Metric: OutcomeSucceeded}},
		{"success on last delivery acks", Outcome{NumDelivered: 5, MaxDeliver: 5}, Action{Verb: Ack, Metric: OutcomeSucceeded}},
		{"running heartbeats", Outcome{Running: true, Err: transient}, Action{Verb: InProgress, Metric: OutcomeRunning}},
		{"transient naks with backoff of attempt", Outcome{Err: transient, NumDelivered: 2, MaxDeliver: 5},
			Action{Verb: Nak, Delay: 2 * time.Second, Code: errcode.Internal, Reason: transient.Error(), Metric: OutcomeRetried}},
		{"dependency deadline is transient", Outcome{Err: fmt.Errorf("redis: %w", context.DeadlineExceeded), NumDelivered: 1, MaxDeliver: 5},
			Action{Verb: Nak, Delay: time.Second, Code: errcode.Internal, Reason: "redis: context deadline exceeded", Metric: OutcomeRetried}},
		{"transient with code keeps it", Outcome{Err: codeErr{"s3_unavailable"}, NumDelivered: 1},
			Action{Verb: Nak, Delay: time.Second, Code: "s3_unavailable", Reason: "coded: s3_unavailable", Metric: OutcomeRetried}},
		{"transient on last delivery dead-letters", Outcome{Err: transient, NumDelivered: 5, MaxDeliver: 5},
			Action{Verb: Term, Status: status.StateFailed, Code: errcode.Internal, DeadLetter: true, Metric: OutcomeDeadLetter,
				Reason: "gave up after 5 deliveries: s3: connection reset"}},
		{"transient past last delivery dead-letters", Outcome{Err: transient, NumDelivered: 9, MaxDeliver: 5},
			Action{Verb: Term, Status: status.StateFailed, Code: errcode.Internal, DeadLetter: true, Metric: OutcomeDeadLetter,
				Reason: "gave up after 9 deliveries: s3: connection reset"}},
		{"unlimited deliveries keep retrying", Outcome{Err: transient, NumDelivered: 50, MaxDeliver: -1},
			Action{Verb: Nak, Delay: 50 * time.Second, Code: errcode.Internal, Reason: transient.Error(), Metric: OutcomeRetried}},
		{"permanent terminates on first delivery", Outcome{Err: Permanent(errors.New("bad json"), errcode.InvalidJob), NumDelivered: 1, MaxDeliver: 5},
			Action{Verb: Term, Status: status.StateFailed, Code: errcode.InvalidJob, Reason: "fleet: permanent error: bad json", DeadLetter: true, Metric: OutcomeFailed}},
		{"permanent on last delivery is dead-lettered once, as a failure", Outcome{Err: Permanent(codeErr{"image_empty"}, ""), NumDelivered: 5, MaxDeliver: 5},
			Action{Verb: Term, Status: status.StateFailed, Code: "image_empty", Reason: "fleet: permanent error: coded: image_empty", DeadLetter: true, Metric: OutcomeFailed}},
		{"bad image terminates with its code", Outcome{Err: fmt.Errorf("job 1: %w", &imagedecode.Error{Kind: imagedecode.CodeUndecodable, Msg: "truncated"}), NumDelivered: 1, MaxDeliver: 5},
			Action{Verb: Term, Status: status.StateFailed, Code: "image_undecodable", Reason: "job 1: image_undecodable: truncated", DeadLetter: true, Metric: OutcomeFailed}},
		{"invalid options terminate", Outcome{Err: &pipeline.OptionError{Problems: []string{"uv_size 1"}}, NumDelivered: 2, MaxDeliver: 5},
			Action{Verb: Term, Status: status.StateFailed, Code: "invalid_options", Reason: "invalid_options: uv_size 1", DeadLetter: true, Metric: OutcomeFailed}},
		{"canceled terminates", Outcome{Err: fmt.Errorf("stage texture: %w", ErrCanceled), NumDelivered: 1, MaxDeliver: 5},
			Action{Verb: Term, Status: status.StateCanceled, Code: errcode.Canceled, Reason: "canceled", Metric: OutcomeCanceled}},
		{"canceled on last delivery still canceled", Outcome{Err: ErrCanceled, NumDelivered: 5, MaxDeliver: 5},
			Action{Verb: Term, Status: status.StateCanceled, Code: errcode.Canceled, Reason: "canceled", Metric: OutcomeCanceled}},
		{"shutdown requeues now", Outcome{Err: fmt.Errorf("%w: %w", ErrShutdown, context.Canceled), NumDelivered: 5, MaxDeliver: 5},
			Action{Verb: Nak, Metric: OutcomeRequeued}},
		{"panic is transient", Outcome{Err: fmt.Errorf("%w: boom", ErrPanic), NumDelivered: 1, MaxDeliver: 3},
			Action{Verb: Nak, Delay: time.Second, Code: errcode.Panic, Reason: "fleet: job panicked: boom", Metric: OutcomeRetried}},
		{"a delivery of a job already finished acks, counts nothing", Outcome{Err: errAlreadyDone, NumDelivered: 2, MaxDeliver: 5},
			Action{Verb: Ack, Reason: "job already finished"}},
		{"already finished on the last delivery acks too", Outcome{Err: errAlreadyDone, NumDelivered: 5, MaxDeliver: 5},
			Action{Verb: Ack, Reason: "job already finished"}},
		{"status not stored: nak after retry(1), whatever the delivery", Outcome{Err: Permanent(errors.New("bad json"), errcode.InvalidJob), StatusErr: errors.New("redis down"), NumDelivered: 3, MaxDeliver: 5},
			Action{Verb: Nak, Delay: time.Second, Code: errcode.InvalidJob, Reason: "fleet: permanent error: bad json"}},
		{"status not stored on the last delivery: dead letter and term with the reason", Outcome{Err: transient, StatusErr: errors.New("redis down"), NumDelivered: 5, MaxDeliver: 5},
			Action{Verb: Term, Code: errcode.Internal, DeadLetter: true,
				Reason: "gave up after 5 deliveries: s3: connection reset (status not stored: redis down)"}},
		{"timeout is transient", Outcome{Err: fmt.Errorf("%w after 5m", ErrJobTimeout), NumDelivered: 3, MaxDeliver: 3},
			Action{Verb: Term, Status: status.StateFailed, Code: errcode.Timeout, DeadLetter: true, Metric: OutcomeDeadLetter,
				Reason: "gave up after 3 deliveries: fleet: job timed out after 5m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Decide(tc.in, retry))
		})
	}
}

func TestDecideNilRetry(t *testing.T) {
	t.Parallel()
	a := Decide(Outcome{Err: errors.New("x"), NumDelivered: 1, MaxDeliver: 2}, nil)
	require.Equal(t, Nak, a.Verb)
	require.Zero(t, a.Delay)
}

func TestErrorCode(t *testing.T) {
	t.Parallel()
	require.Empty(t, ErrorCode(nil))
	require.Equal(t, errcode.Internal, ErrorCode(errors.New("x")))
	require.Equal(t, errcode.Code("abc"), ErrorCode(fmt.Errorf("wrapped: %w", codeErr{"abc"})))
	require.Equal(t, errcode.Code("outer"), ErrorCode(Permanent(codeErr{"inner"}, "outer")))
	require.Equal(t, errcode.Canceled, ErrorCode(ErrCanceled))
	require.Nil(t, Permanent(nil, "x"))
	require.True(t, IsPermanent(Permanent(errors.New("x"), "")))
	require.False(t, IsPermanent(errors.New("x")))
}

func TestVerbString(t *testing.T) {
	t.Parallel()
	for v, s := range map[Verb]string{Ack: "ack", Nak: "nak", InProgress: "in_progress", Term: "term", 0: "verb(0)"} {
		require.Equal(t, s, v.String())
	}
}

func BenchmarkDecide(b *testing.B) {
	retry := func(attempt int) time.Duration { return time.Duration(attempt) * time.Second }
	outcomes := []Outcome{
		{NumDelivered: 1, MaxDeliver: 5},
		{Err: errors.New("s3: reset"), NumDelivered: 2, MaxDeliver: 5},
		{Err: &imagedecode.Error{Kind: imagedecode.CodeEmpty}, NumDelivered: 1, MaxDeliver: 5},
		{Err: ErrCanceled, NumDelivered: 1, MaxDeliver: 5},
	}
	for i := 0; b.Loop(); i++ {
		_ = Decide(outcomes[i%len(outcomes)], retry)
	}
}
