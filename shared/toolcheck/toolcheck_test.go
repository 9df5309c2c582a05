package toolcheck_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facefleet/facefleet/shared/toolcheck"
)

type recorder struct{ skipped, failed bool }

func (r *recorder) Helper()      {}
func (r *recorder) Skip(...any)  { r.skipped = true }
func (r *recorder) Fatal(...any) { r.failed = true }

func TestMissingSkipsOrFails(t *testing.T) {
	t.Setenv(toolcheck.EnvRequire, "")
	r := &recorder{}
	toolcheck.Missing(r, "helm not found")
	require.True(t, r.skipped)
	require.False(t, r.failed)

	t.Setenv(toolcheck.EnvRequire, "1")
	r = &recorder{}
	toolcheck.Missing(r, "helm not found")
	require.True(t, r.failed)
	require.False(t, r.skipped)
}
