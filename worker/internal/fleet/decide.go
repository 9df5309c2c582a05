package fleet

import (
	"errors"
	"fmt"
	"time"

	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/status"
)

// Verb is what the worker tells JetStream about a message.
type Verb int

// The verbs, one per JetStream acknowledgement kind the worker uses.
const (
	// Ack: the job is finished (succeeded, or its terminal status is stored).
	Ack Verb = iota + 1
	// Nak: hand the message back for redelivery after Action.Delay.
	Nak
	// InProgress: the job is still running; reset the ack-wait timer.
	InProgress
	// Term: never redeliver; Action.Reason says why.
	Term
)

func (v Verb) String() string {
	switch v {
	case Ack:
		return "ack"
	case Nak:
		return "nak"
	case InProgress:
		return "in_progress"
	case Term:
		return "term"
	}
	return fmt.Sprintf("verb(%d)", int(v))
}

// Metric outcome labels (jobs_total{outcome}).
const (
	OutcomeSucceeded  = "succeeded"
	OutcomeFailed     = "failed"
	OutcomeRetried    = "retried"
	OutcomeDeadLetter = "dead_lettered"
	OutcomeCanceled   = "canceled"
	OutcomeRequeued   = "requeued"
	OutcomeRunning    = "running"
)

// Outcome is what happened to one delivery of a job.
type Outcome struct {
	// Err is nil when the job succeeded.
	Err error
	// Running is true for a heartbeat: the job has not finished yet.
	Running bool
	// NumDelivered is the delivery count of the message (1 on first delivery).
	NumDelivered uint64
	// MaxDeliver is the consumer's delivery limit; 0 or less means unlimited.
	MaxDeliver int
	// StatusErr is set when the terminal status that Decide asked for (for
	// this Err) could not be stored: Decide then says how to keep the job
	// from being lost.
	StatusErr error
}

// Action is what the worker must do for an Outcome, in this order: store
// Status (with Code and Reason) when set, publish to the
// dead-letter subject when DeadLetter, then tell JetStream Verb.
type Action struct {
	Verb Verb
	// Delay applies to Nak.
	Delay time.Duration
	// Status is the terminal job state to store (failed or canceled), or "".
	Status status.State
	// Code is the machine error code for failed and canceled jobs.
	Code errcode.Code
	// Reason is the human-readable reason (Term reason and status message).
	Reason string
	// DeadLetter asks for the message to be copied to the dead-letter queue.
	DeadLetter bool
	// Metric is the jobs_total outcome label; "" counts nothing (a delivery
	// of a job already finished, the fallback after a status write failed).
	Metric string
}

// RetryPolicy gives the Nak delay after a transient failure of the given
// delivery attempt (1-based).
type RetryPolicy func(attempt int) time.Duration

// Decide is the one place that maps a job outcome to what the worker tells
// JetStream and stores in the job status:
//
//   - success → Ack (the succeeded status is stored before, by the job itself);
//   - the job was already finished before this delivery (errAlreadyDone) →
//     Ack, nothing stored or counted;
//   - still running → InProgress;
//   - canceled by its owner (ErrCanceled) → status canceled, Term;
//   - worker shutdown (ErrShutdown) → Nak without delay, status untouched;
//   - permanent error (see IsPermanent: an undecodable or invalid message,
//     a bad image, …) → status failed, dead letter, Term: nothing the
//     worker refuses is lost;
//   - transient error on the last delivery → status failed, dead letter, Term;
//   - other transient error → Nak after retry(NumDelivered).
//
// When the terminal status of such an Action could not be stored
// (Outcome.StatusErr), the message is Nak'd after retry(1) so that the job
// is not lost, except on its last delivery (JetStream would never hand it
// out again): then it is dead-lettered with the reason and terminated, so
// the job's fate is recorded even though its status record could not be.
func Decide(o Outcome, retry RetryPolicy) Action {
	last := o.MaxDeliver > 0 && o.NumDelivered >= uint64(o.MaxDeliver)
	switch {
	case o.Running:
		return Action{Verb: InProgress, Metric: OutcomeRunning}
	case o.StatusErr != nil:
		a := Decide(Outcome{Err: o.Err, NumDelivered: o.NumDelivered, MaxDeliver: o.MaxDeliver}, retry)
		if !last {
			var d time.Duration
			if retry != nil {
				d = retry(1)
			}
			return Action{Verb: Nak, Delay: d, Code: a.Code, Reason: a.Reason}
		}
		return Action{Verb: Term, Code: a.Code, DeadLetter: true,
			Reason: fmt.Sprintf("%s (status not stored: %v)", a.Reason, o.StatusErr)}
	case o.Err == nil:
		return Action{Verb: Ack, Metric: OutcomeSucceeded}
	case errors.Is(o.Err, errAlreadyDone):
		return Action{Verb: Ack, Reason: "job already finished"}
	case errors.Is(o.Err, ErrCanceled):
		return Action{Verb: Term, Status: status.StateCanceled, Code: errcode.Canceled, Reason: "canceled", Metric: OutcomeCanceled}
	case errors.Is(o.Err, ErrShutdown):
		return Action{Verb: Nak, Metric: OutcomeRequeued}
	case IsPermanent(o.Err):
		return Action{Verb: Term, Status: status.StateFailed, Code: ErrorCode(o.Err), Reason: o.Err.Error(),
			DeadLetter: true, Metric: OutcomeFailed}
	case last:
		return Action{
			Verb: Term, Status: status.StateFailed, Code: ErrorCode(o.Err), DeadLetter: true, Metric: OutcomeDeadLetter,
			Reason: fmt.Sprintf("gave up after %d deliveries: %v", o.NumDelivered, o.Err),
		}
	}
	var d time.Duration
	if retry != nil {
		d = retry(int(min(o.NumDelivered, 1<<30)))
	}
	return Action{Verb: Nak, Delay: d, Code: ErrorCode(o.Err), Reason: o.Err.Error(), Metric: OutcomeRetried}
}
