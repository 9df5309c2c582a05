// Command tflite2onnx converts a MediaPipe TFLite model to ONNX (package
// models/tflite): the model is read from a .tflite file or from the packed
// assets of a MediaPipe JS solution package, so the pack runs exactly the
// weights MediaPipe's own solution runs. Output is deterministic.
//
//	go run ./models/cmd/tflite2onnx -npm .cache/mediapipe-npm/node_modules/@mediapipe/face_mesh \
//	    -model face_landmark.tflite -o models/face_landmark.onnx
package main

import (
	"archive/zip"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/facefleet/facefleet/models/tflite"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tflite2onnx:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("tflite2onnx", flag.ContinueOnError)
	npm := fl.String("npm", "", "directory of a MediaPipe JS solution npm package (holds *_packed_assets_loader.js and .data)")
	task := fl.String("task", "", "a MediaPipe Tasks bundle (.task, a zip) holding the model")
	outputs := fl.String("outputs", "", "comma-separated graph outputs to keep (default: all)")
	model := fl.String("model", "face_landmark.tflite", "model file: a path, or with -npm the name inside the packed assets")
	out := fl.String("o", "", "output .onnx file (required)")
	check := fl.Bool("check", false, "do not write; fail if the output differs from a fresh conversion")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-o is required")
	}
	var src []byte
	var err error
	if *task != "" {
		if src, err = fromTask(*task, *model); err != nil {
			return err
		}
	} else if *npm != "" {
		loaders, _ := filepath.Glob(filepath.Join(*npm, "*_packed_assets_loader.js"))
		if len(loaders) != 1 {
			return fmt.Errorf("%s: want one *_packed_assets_loader.js, found %d", *npm, len(loaders))
		}
		loader, err := os.ReadFile(loaders[0])
		if err != nil {
			return err
		}
		data, err := os.ReadFile(loaders[0][:len(loaders[0])-len("_loader.js")] + ".data")
		if err != nil {
			return err
		}
		if src, err = tflite.FromPackedAssets(loader, data, *model); err != nil {
			return err
		}
	} else if src, err = os.ReadFile(*model); err != nil {
		return err
	}
	var keep []string
	if *outputs != "" {
		keep = strings.Split(*outputs, ",")
	}
	b, err := tflite.ConvertBytes(src, keep...)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: tflite sha256 %x (%d bytes) → %s sha256 %x (%d bytes)\n", *model, sha256.Sum256(src), len(src), *out, sha256.Sum256(b), len(b))
	if *check {
		old, err := os.ReadFile(*out)
		if err != nil {
			return err
		}
		if string(old) != string(b) {
			return fmt.Errorf("%s is stale: rerun without -check", *out)
		}
		return nil
	}
	return os.WriteFile(*out, b, 0o644)
}

// fromTask reads file name from a MediaPipe Tasks bundle (a zip).
func fromTask(path, name string) ([]byte, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, err
	}
	defer z.Close()
	for _, f := range z.File {
		if f.Name != name {
			continue
		}
		r, err := f.Open()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(io.LimitReader(r, 256<<20))
	}
	return nil, fmt.Errorf("%s: no %s in the bundle", path, name)
}
