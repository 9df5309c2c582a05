package fleet

import (
	"errors"

	"github.com/facefleet/facefleet/shared/job"
	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// IsPermanent reports whether err can never succeed on retry: it wraps
// ErrPermanent or one of the bad-input sentinels (docs/ARCHITECTURE.md,
// "Errors"): imagedecode.ErrBadImage, pipeline.ErrInvalidOptions or
// job.ErrInvalid.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrPermanent) ||
		errors.Is(err, imagedecode.ErrBadImage) ||
		errors.Is(err, pipeline.ErrInvalidOptions) ||
		errors.Is(err, job.ErrInvalid)
}
