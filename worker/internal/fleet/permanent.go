package fleet

import "errors"

// IsPermanent reports whether err can never succeed on retry: it wraps
// ErrPermanent or one of the bad-input sentinels of the packages the worker
// runs (see docs/ARCHITECTURE.md, "Errors").
func IsPermanent(err error) bool {
	for _, s := range permanentSentinels() {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// permanentSentinels lists the sentinel errors that mark bad input.
func permanentSentinels() []error {
	return []error{ErrPermanent}
}
