// Package ict embeds a compact pack of ICT-FaceKit's light morphable head
// model (MIT, USC ICT Vision and Graphics Lab; LICENSE and CREDITS.md beside
// this file): the 26,719-vertex neutral head with UVs and 12 material groups,
// its 100 identity modes (units of one standard deviation, prior N(0, 1)),
// its 53 ARKit-named expression shapes (weights 0..1), the 68 iBUG landmark
// vertices, and the MediaPipe FaceMesh ↔ ICT correspondence
// (mediapipe_correspondence.json).
//
// The pack (ict.pack) is derived from the ICT-FaceKit distribution by
// models/cmd/ictpack; the correspondence by models/cmd/ictcorr. Both tools
// are deterministic and their outputs are checked by this package's tests.
package ict

import (
	_ "embed"
	"sync"
)

//go:embed ict.pack
var pack []byte

//go:embed mediapipe_correspondence.json
var correspondence []byte

// Pack returns the embedded pack bytes.
func Pack() []byte { return pack }

var model = sync.OnceValues(func() (*Model, error) { return Decode(pack) })

// Load returns the decoded embedded model (decoded once; shared, do not modify).
// It panics only if the embedded pack is corrupt, which the tests rule out.
func Load() *Model {
	m, err := model()
	if err != nil {
		panic(err)
	}
	return m
}

// Expression returns the index of the expression named name, or -1.
func (m *Model) Expression(name string) int {
	for i, s := range m.Expressions {
		if s.Name == name {
			return i
		}
	}
	return -1
}

var mediapipe = sync.OnceValues(func() (*Correspondence, error) {
	return DecodeCorrespondence(correspondence, Load())
})

// MediaPipe returns the embedded MediaPipe ↔ ICT correspondence (shared, do
// not modify). It panics only if the embedded file is corrupt, which the
// tests rule out.
func MediaPipe() *Correspondence {
	c, err := mediapipe()
	if err != nil {
		panic(err)
	}
	return c
}

// CorrespondenceJSON returns the embedded correspondence file.
func CorrespondenceJSON() []byte { return correspondence }
