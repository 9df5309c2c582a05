package geometry

import "github.com/facefleet/facefleet/shared/errcode"

// Error is a geometry error with a machine code (see docs/ARCHITECTURE.md:
// values with a Code method give the code stored in the job status).
// The package's sentinels are *Error values; wrap-aware callers use errors.Is.
type Error struct {
	code errcode.Code
	msg  string
}

// Error implements error.
func (e *Error) Error() string { return "geometry: " + e.msg }

// Code is the machine-readable code of the error.
func (e *Error) Code() string { return e.code.String() }

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrInvalidInput reports landmarks of the wrong count, non-finite
	// coordinates, a non-positive image size or a mesh without vertices.
	ErrInvalidInput = &Error{code: errcode.GeometryInvalidInput, msg: "invalid input"}
	// ErrDegenerate reports landmarks (or a model) whose points collapse to a
	// point or a line, so no pose can be fitted.
	ErrDegenerate = &Error{code: errcode.GeometryDegenerate, msg: "degenerate landmarks"}
)
