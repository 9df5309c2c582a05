// Package onnxpb holds Go types for the subset of ONNX's protobuf schema
// (onnx.proto) that the FP16 converter needs. Fields outside the subset are
// preserved as unknown fields and survive a decode/encode round trip.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
