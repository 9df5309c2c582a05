# facefleet — run `make help` for the targets.
SHELL := bash
GO ?= go
BIN := bin
export FACEFLEET_ORT_LIB ?= $(CURDIR)/.cache/ort/libonnxruntime.so.1

.DEFAULT_GOAL := help

help: ## Show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Install the ONNX Runtime CPU library into .cache/ort (idempotent)
	@bash .ci/install-ort.sh

build: ## Build bin/worker, bin/producer, bin/localstack
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./worker ./producer ./localstack

models: ## Regenerate derived model files (canonical mesh JSON, FP16 graphs)
	$(GO) run ./models/cmd/meshpack
	$(GO) run ./models/cmd/onnxfp16 -dir models

test: setup ## Run every test (needs redis-server on PATH; see .ci/run)
	$(GO) test -count=1 -timeout 30m ./...

.PHONY: help setup build models test
