// Package errcode owns facefleet's machine error codes: the one typed set
// behind a status record's error_code, a dead letter's Facefleet-Dlq-Code,
// the HTTP API's {"error":{"code"}} and geometry's per-face errors. Every
// package that produces or matches a code imports it from here;
// docs/ARCHITECTURE.md ("Error codes") lists exactly these (a test keeps the
// two equal).
//
// An error carries its code by implementing interface{ Code() string }; the
// worker's fleet reads it with errors.As.
package errcode

// Code is a machine error code.
type Code string

// String returns the code as stored and sent.
func (c Code) String() string { return string(c) }

// Job codes: stored in a failed (or canceled) job's status record and in its
// dead letter.
const (
	// ImageUndecodable: corrupt or truncated data, unknown format.
	ImageUndecodable Code = "image_undecodable"
	// ImageTooLarge: over the decode limits (bytes, pixels or a dimension).
	ImageTooLarge Code = "image_too_large"
	// ImageUnsupportedFormat: a recognised format that is not decoded (GIF, BMP, TIFF, HEIC…).
	ImageUnsupportedFormat Code = "image_unsupported_format"
	// ImageEmpty: no bytes, or a zero-sized image.
	ImageEmpty Code = "image_empty"
	// InvalidOptions: job options out of range.
	InvalidOptions Code = "invalid_options"
	// InvalidJob: an undecodable or invalid message, an input key outside
	// inputs/<tenant>/, another bucket than the fleet's, another tenant's job ID.
	InvalidJob Code = "invalid_job"
	// InputNotFound: the job's input image is not in S3.
	InputNotFound Code = "input_not_found"
	// Timeout: the job ran past the worker's job timeout.
	Timeout Code = "timeout"
	// Panic: processing the job panicked.
	Panic Code = "panic"
	// Internal: any failure without a code of its own (also the API's 500).
	Internal Code = "internal"
	// Canceled: the job's owner canceled it.
	Canceled Code = "canceled"
	// PublishFailed: the producer stored the record but could not publish the message.
	PublishFailed Code = "publish_failed"
)

// Face codes: geometry's errors for one face (logged; the face keeps its
// texture, no geometry files, the job goes on).
const (
	// GeometryInvalidInput: landmarks of the wrong count, non-finite, or no image size.
	GeometryInvalidInput Code = "geometry_invalid_input"
	// GeometryDegenerate: landmarks collapse to a point or a line; no pose fits.
	GeometryDegenerate Code = "geometry_degenerate"
)

// Request codes: the HTTP API's and the Go client's refusals of a request
// (with InvalidOptions, InputNotFound, ImageEmpty, ImageUnsupportedFormat
// and Internal above).
const (
	// Unauthorized: no or an unknown API key.
	Unauthorized Code = "unauthorized"
	// NotFound: no such job (or another tenant's), file or route.
	NotFound Code = "not_found"
	// UploadTooLarge: the body or image is larger than the upload limit.
	UploadTooLarge Code = "upload_too_large"
	// BadRequest: a malformed request (bad JSON, tenant, priority, image and key both or neither).
	BadRequest Code = "bad_request"
	// InvalidInput: an input key outside the tenant's prefix, an unreadable image body.
	InvalidInput Code = "invalid_input"
	// UnsupportedMediaType: the upload's media type is not accepted.
	UnsupportedMediaType Code = "unsupported_media_type"
	// Conflict: the job already finished (cancel), or a dead letter names another tenant's job (retry).
	Conflict Code = "conflict"
	// Unavailable: the request was cancelled or timed out.
	Unavailable Code = "unavailable"
	// MethodNotAllowed: the route exists, the method does not.
	MethodNotAllowed Code = "method_not_allowed"
)

// All returns every code, job codes first, then face and request codes.
func All() []Code {
	return []Code{
		ImageUndecodable, ImageTooLarge, ImageUnsupportedFormat, ImageEmpty, InvalidOptions, InvalidJob,
		InputNotFound, Timeout, Panic, Internal, Canceled, PublishFailed,
		GeometryInvalidInput, GeometryDegenerate,
		Unauthorized, NotFound, UploadTooLarge, BadRequest, InvalidInput, UnsupportedMediaType, Conflict,
		Unavailable, MethodNotAllowed,
	}
}

// Known reports whether s is one of All.
func Known(s string) bool {
	for _, c := range All() {
		if string(c) == s {
			return true
		}
	}
	return false
}
