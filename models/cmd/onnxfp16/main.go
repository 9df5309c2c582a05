// Command onnxfp16 converts the FP32 ONNX models in a directory to FP16
// (package models/onnxfp16): every *.onnx that is not already *.fp16.onnx
// (nor another of its outputs) becomes <name>.fp16.onnx beside it. Output is deterministic, so a rerun
// rewrites identical bytes. With -card it then refreshes the SHA-256 table
// of the model card; with -check it writes nothing and fails if anything is
// stale.
//
//	go run ./models/cmd/onnxfp16 -dir models -card models/MODEL_CARD.md
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"

	"github.com/facefleet/facefleet/models/onnxfp16"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "onnxfp16:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fl := flag.NewFlagSet("onnxfp16", flag.ContinueOnError)
	dir := fl.String("dir", "models", "directory of FP32 *.onnx models")
	keep := fl.String("keep-fp32", "", `comma-separated op types kept in FP32, or "cpu" for the ops ONNX Runtime's CPU provider has no FP16 kernel for (default: none)`)
	suffix := fl.String("suffix", ".fp16.onnx", "output file suffix replacing .onnx")
	static := fl.Bool("static-batch", false, "keep the batch dimension as in the input")
	check := fl.Bool("check", false, "do not write; fail if an output or the card's table is missing or differs")
	card := fl.String("card", "", "model card (Markdown) whose SHA-256 table of the pack's files to update after converting")
	if err := fl.Parse(args); err != nil {
		return err
	}
	opts := onnxfp16.Options{StaticBatch: *static}
	switch *keep {
	case "":
	case "cpu":
		opts.KeepFP32 = onnxfp16.CPUNoFP16Kernels()
	default:
		opts.KeepFP32 = strings.Split(*keep, ",")
	}
	paths, err := filepath.Glob(filepath.Join(*dir, "*.onnx"))
	if err != nil {
		return err
	}
	sort.Strings(paths)
	var n int
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasSuffix(p, ".fp16.onnx") || strings.HasSuffix(p, *suffix) {
			continue
		}
		in, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		conv, rep, err := onnxfp16.Convert(in, opts)
		if errors.Is(err, onnxfp16.ErrConverted) {
			fmt.Fprintf(out, "%s: skipped, already converted\n", filepath.Base(p))
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		dst := strings.TrimSuffix(p, ".onnx") + *suffix
		if *check {
			old, err := os.ReadFile(dst)
			if err != nil {
				return err
			}
			if string(old) != string(conv) {
				return fmt.Errorf("%s is stale: rerun without -check", dst)
			}
		} else if err := os.WriteFile(dst, conv, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s → %s\n  %s\n", filepath.Base(p), filepath.Base(dst), rep)
		n++
	}
	if n == 0 {
		return fmt.Errorf("no FP32 *.onnx in %s", *dir)
	}
	if *card != "" {
		return updateCard(*card, *dir, *check)
	}
	return nil
}
