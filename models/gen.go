package models

// FP16 variants of the ONNX models (deterministic; rerun after changing an
// FP32 model or the converter, then update MODEL_CARD.md's SHA-256 table).
//go:generate go run ./cmd/onnxfp16 -dir .
