package tflite

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// The custom options of face_landmark_with_attention's
// TransformTensorBilinear nodes, as stored in the model.
const bilinearOptions = "6f75747075745f686569676874006f75747075745f776964746800021c0f02010210100404042401"

func TestFlexMapDecodesModelOptions(t *testing.T) {
	b, err := hex.DecodeString(bilinearOptions)
	require.NoError(t, err)
	a, err := flexMap(b)
	require.NoError(t, err)
	require.Equal(t, flexAttrs{"output_height": 16.0, "output_width": 16.0}, a)
	_, err = a.numbers("output_width")
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = a.number("scale_x")
	require.ErrorIs(t, err, ErrUnsupported)
	for _, bad := range [][]byte{nil, {1}, b[:len(b)-1], append([]byte{}, b[len(b)-8:]...)} {
		_, err := flexMap(bad)
		require.Error(t, err)
	}
}

// FuzzFlexMap: no input panics; errors are typed.
func FuzzFlexMap(f *testing.F) {
	b, _ := hex.DecodeString(bilinearOptions)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := flexMap(b); err != nil && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
