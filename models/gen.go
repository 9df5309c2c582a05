package models

// FP16 variants of the ONNX models and the SHA-256 table of MODEL_CARD.md
// (deterministic; rerun after changing an FP32 model or the converter).
//go:generate go run ./cmd/onnxfp16 -dir . -card MODEL_CARD.md
