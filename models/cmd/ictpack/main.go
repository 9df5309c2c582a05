// Command ictpack derives the compact ICT-FaceKit pack embedded by package
// models/ict (models/ict/ict.pack) from the ICT-FaceKit distribution
// (../shared/models/ict-facekit: generic_neutral_mesh.obj, shapes/*.obj,
// vertex_indices.json). The output is deterministic: rerunning it on the same
// sources writes identical bytes.
//
//	go run ./models/cmd/ictpack -src ../shared/models/ict-facekit -out models/ict/ict.pack
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/facefleet/facefleet/models/ict"
)

func main() {
	src := flag.String("src", "../shared/models/ict-facekit", "ICT-FaceKit directory")
	out := flag.String("out", "models/ict/ict.pack", "output pack")
	flag.Parse()
	if err := run(*src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "ictpack:", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	s, err := ict.ReadSource(src)
	if err != nil {
		return err
	}
	b, err := ict.Encode(s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	fmt.Printf("ictpack: %d vertices, %d triangles, %d identity + %d expression shapes → %s (%d bytes)\n",
		len(s.Neutral), len(s.Tris), len(s.Identity), len(s.Expr), out, len(b))
	return nil
}
