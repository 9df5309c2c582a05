package fleet

import (
	"errors"

	"github.com/facefleet/facefleet/worker/internal/imagedecode"
	"github.com/facefleet/facefleet/worker/internal/pipeline"
)

// IsPermanent reports whether err can never succeed on retry: it wraps
// ErrPermanent or one of the bad-input sentinels of the packages the worker
// runs (docs/ARCHITECTURE.md, "Errors"): imagedecode.ErrBadImage,
// pipeline.ErrInvalidOptions.
func IsPermanent(err error) bool {
	return errors.Is(err, ErrPermanent) ||
		errors.Is(err, imagedecode.ErrBadImage) ||
		errors.Is(err, pipeline.ErrInvalidOptions)
}
