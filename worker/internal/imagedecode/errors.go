package imagedecode

import (
	"errors"
	"fmt"

	"github.com/facefleet/facefleet/shared/errcode"
)

// ErrBadImage is the sentinel every bad-input error of this package wraps;
// the fleet maps it to a permanent failure with errors.Is.
var ErrBadImage = errors.New("imagedecode: bad image")

// Code is the machine-readable reason of an [Error], stored in job status
// (one of shared/errcode's set).
type Code = errcode.Code

// The codes an [Error] carries.
const (
	CodeUndecodable       = errcode.ImageUndecodable       // corrupt or truncated data, unknown format
	CodeTooLarge          = errcode.ImageTooLarge          // over Limits (bytes, pixels or a dimension)
	CodeUnsupportedFormat = errcode.ImageUnsupportedFormat // a recognised format we do not decode (GIF, BMP, TIFF, HEIC…)
	CodeEmpty             = errcode.ImageEmpty             // no bytes, or a zero-sized image
)

// Error is a bad-input error. It matches [ErrBadImage] with errors.Is and
// unwraps to the decoder's own error, if any.
//
// The code lives in the field Kind because Go forbids a field and a method
// of the same name; Code() returns it as a string for the status record.
type Error struct {
	Kind Code   // machine code
	Msg  string // human-readable detail
	Err  error  // underlying cause, may be nil
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Msg)
}

// Code returns the machine code, e.g. "image_too_large".
func (e *Error) Code() string { return string(e.Kind) }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is [ErrBadImage].
func (e *Error) Is(target error) bool { return target == ErrBadImage }

func newError(c Code, err error, format string, args ...any) *Error {
	return &Error{Kind: c, Msg: fmt.Sprintf(format, args...), Err: err}
}
