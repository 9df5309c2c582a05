// Command meshpack converts MediaPipe's geometry pipeline metadata (pbtxt)
// into the compact canonical_face_mesh.json embedded by package models.
//
//	go run ./models/cmd/meshpack -in models/geometry_pipeline_metadata_landmarks.pbtxt -out models/canonical_face_mesh.json
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/facefleet/facefleet/models/facemesh"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "meshpack:", err)
		os.Exit(1)
	}
}

func run() error {
	in := flag.String("in", "models/geometry_pipeline_metadata_landmarks.pbtxt", "MediaPipe geometry pipeline metadata (pbtxt)")
	out := flag.String("out", "models/canonical_face_mesh.json", "output file")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := facemesh.ParsePBTXT(f)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}
