package fleet

import (
	"errors"
	"fmt"

	"github.com/facefleet/facefleet/shared/errcode"
)

// Sentinel errors of the fleet. Callers check them with errors.Is.
var (
	// ErrPermanent marks an error that no retry can fix: the job fails
	// terminally on its first delivery. Wrap with Permanent.
	ErrPermanent = errors.New("fleet: permanent error")
	// ErrCanceled reports that the job's owner asked for it to be canceled.
	ErrCanceled = errors.New("fleet: job canceled")
	// ErrShutdown reports that the worker abandoned the job because it is
	// shutting down; the message is handed back for redelivery.
	ErrShutdown = errors.New("fleet: worker shutting down")
	// ErrPanic reports that processing the job panicked. It is transient:
	// the job is retried like any other unexplained failure.
	ErrPanic = errors.New("fleet: job panicked")
	// ErrJobTimeout reports that the job ran past its per-job timeout.
	ErrJobTimeout = errors.New("fleet: job timed out")
	// ErrInvalidConfig reports a bad worker configuration.
	ErrInvalidConfig = errors.New("fleet: invalid config")
)

// codedError attaches a machine code to an error.
type codedError struct {
	code errcode.Code
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }
func (e *codedError) Code() string  { return e.code.String() }

// Permanent wraps err so that Decide fails the job terminally without retry.
// code, when not empty, becomes the status error code (it takes precedence
// over a Code() of err itself).
func Permanent(err error, code errcode.Code) error {
	if err == nil {
		return nil
	}
	w := fmt.Errorf("%w: %w", ErrPermanent, err)
	if code == "" {
		return w
	}
	return &codedError{code: code, err: w}
}

// ErrorCode returns the machine code of err: the Code() of the first error in
// its chain that has one, else a code derived from the fleet sentinels, else
// errcode.Internal. ErrorCode(nil) is "".
func ErrorCode(err error) errcode.Code {
	if err == nil {
		return ""
	}
	var c interface{ Code() string }
	if errors.As(err, &c) && c.Code() != "" {
		return errcode.Code(c.Code())
	}
	switch {
	case errors.Is(err, ErrCanceled):
		return errcode.Canceled
	case errors.Is(err, ErrJobTimeout):
		return errcode.Timeout
	case errors.Is(err, ErrPanic):
		return errcode.Panic
	}
	return errcode.Internal
}
