package client

import (
	"errors"

	"github.com/facefleet/facefleet/shared/errcode"
	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/shared/status"
)

// Sentinel errors. Callers test them with errors.Is; errors carrying a
// machine code implement interface{ Code() string }.
var (
	// ErrNotFound: no job with that ID (never created, expired, or, through
	// the HTTP API, owned by another tenant). It matches status.ErrNotFound.
	ErrNotFound = errors.New("client: job not found")
	// ErrInvalidRequest: the request itself is wrong (no image and no key,
	// both, a key outside the tenant's prefix, a bad tenant or priority).
	ErrInvalidRequest = errors.New("client: invalid request")
	// ErrInvalidOptions: the job options are out of range. It also matches
	// job.ErrInvalid.
	ErrInvalidOptions = errors.New("client: invalid options")
	// ErrTooLarge: the image is larger than the configured upload limit.
	ErrTooLarge = errors.New("client: image too large")
	// ErrUnsupportedImage: the bytes are not JPEG, PNG or WebP.
	ErrUnsupportedImage = errors.New("client: unsupported image format")
	// ErrInputNotFound: the referenced S3 input key does not exist.
	ErrInputNotFound = errors.New("client: input object not found")
	// ErrFinished: the job already reached a terminal state (cancel refused).
	// It matches status.ErrTerminal.
	ErrFinished = errors.New("client: job already finished")
)

// Error is a client error with a machine code; it wraps one of the
// sentinels above (and, where there is one, the underlying cause).
type Error struct {
	code errcode.Code
	msg  string
	errs []error
}

func (e *Error) Error() string { return e.msg }

// Code returns the machine code (e.g. "invalid_options", "upload_too_large").
func (e *Error) Code() string { return e.code.String() }

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error { return e.errs }

func newError(code errcode.Code, sentinel error, msg string, cause ...error) *Error {
	return &Error{code: code, msg: msg, errs: append([]error{sentinel}, cause...)}
}

// mapStatusErr turns status sentinels into client sentinels, keeping the cause.
func mapStatusErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, status.ErrNotFound):
		return newError(errcode.NotFound, ErrNotFound, err.Error(), err)
	case errors.Is(err, status.ErrTerminal):
		return newError(errcode.Conflict, ErrFinished, err.Error(), err)
	}
	return err
}

var _ = job.ErrInvalid
