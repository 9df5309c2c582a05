// Command ictcorr derives the MediaPipe FaceMesh ↔ ICT-FaceKit correspondence
// (models/ict/mediapipe_correspondence.json) from the two canonical meshes
// embedded in the repository: MediaPipe's canonical face mesh (package
// models) and ICT's neutral head (package models/ict). See
// ict.DeriveCorrespondence. Deterministic: rerunning writes identical bytes.
//
//	go run ./models/cmd/ictcorr -out models/ict/mediapipe_correspondence.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/facefleet/facefleet/models"
	"github.com/facefleet/facefleet/models/ict"
)

func main() {
	out := flag.String("out", "models/ict/mediapipe_correspondence.json", "output file")
	flag.Parse()
	c, err := ict.DeriveCorrespondence(ict.Load(), models.Canonical(), ict.CorrespondenceIterations)
	if err == nil {
		var b []byte
		if b, err = c.Encode(); err == nil {
			err = os.WriteFile(*out, b, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ictcorr:", err)
		os.Exit(1)
	}
	fmt.Printf("ictcorr: %d points, residual mean %.3f cm, max %.3f cm → %s\n", len(c.Points), c.ResidualCM[0], c.ResidualCM[1], *out)
	fmt.Println("iBUG-68 as MediaPipe vertices:", c.IBUG68)
}
