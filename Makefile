# facefleet — run `make help` for the targets.
SHELL := bash
GO ?= go
BIN := bin
export PATH := $(PATH):$(shell $(GO) env GOPATH)/bin
export FACEFLEET_ORT_LIB ?= $(CURDIR)/.cache/ort/libonnxruntime.so.1
IMAGE_TAG ?= 0.1.0

.DEFAULT_GOAL := help

help: ## Show this help
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z_-]+:.*## /{printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Install what tests and the local stack need (redis-server, chromium, ONNX Runtime, npm packages, helm, nats CLI, golangci-lint); idempotent
	@bash .ci/install-tools.sh

build: ## Build bin/worker, bin/producer, bin/localstack
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./worker ./producer ./localstack

demo: setup build ## Start the local stack, submit the sample faces, show the results, stop
	$(BIN)/localstack demo

up: setup build ## Run the local stack in the foreground (Ctrl-C stops it); state in .data/
	$(BIN)/localstack up

test: setup ## Run every test
	$(GO) test -count=1 -timeout 40m ./...

bench: setup build ## Benchmarks: worker bench (model vs pipeline) and the fleet bench
	$(BIN)/worker bench
	$(BIN)/localstack bench

chaos: setup build ## Long chaos runs: 1000 jobs over 10 min, a fault every 10 s, single servers then 3-node NATS + Redis Sentinel
	$(BIN)/localstack chaos --jobs 1000 --duration 10m --interval 10s --workers 3
	$(BIN)/localstack chaos --jobs 1000 --duration 10m --interval 10s --workers 3 --nats-nodes 3 --redis sentinel

chaos-short: setup build ## The short chaos runs of CI: 200 jobs, every fault once, single servers and cluster + Sentinel
	$(BIN)/localstack chaos --jobs 200 --duration 60s
	$(BIN)/localstack chaos --jobs 200 --duration 60s --nats-nodes 3 --redis sentinel

console: setup ## Rebuild the web console bundle (producer/internal/console/dist, committed) from its sources
	cd producer/internal/console/web && node build.mjs

models: ## Regenerate derived model files (FaceMesh ONNX from MediaPipe's tflite, canonical mesh JSON, FP16 graphs, model card hashes)
	@bash .ci/install-mediapipe.sh
	$(GO) run ./models/cmd/tflite2onnx -npm .cache/mediapipe-npm/node_modules/@mediapipe/face_mesh -model face_landmark.tflite -o models/face_landmark.onnx
	$(GO) run ./models/cmd/tflite2onnx -npm .cache/mediapipe-npm/node_modules/@mediapipe/face_mesh -model face_landmark_with_attention.tflite -outputs output_mesh_identity,output_left_iris,output_right_iris -o models/face_landmark_with_attention.onnx
	$(GO) run ./models/cmd/tflite2onnx -task models/mediapipe-task/face_landmarker_v2_with_blendshapes.task -model face_landmarks_detector.tflite -outputs Identity,Identity_1 -o models/face_landmarks_detector.onnx
	$(GO) run ./models/cmd/meshpack
	$(GO) run ./models/cmd/onnxfp16 -dir models

ICT ?= ../shared/models/ict-facekit
ict: ## Re-derive the ICT-FaceKit head pack from $(ICT) and the MediaPipe↔ICT correspondence (both deterministic)
	$(GO) run ./models/cmd/ictpack -src $(ICT) -out models/ict/ict.pack
	$(GO) run ./models/cmd/ictcorr -out models/ict/mediapipe_correspondence.json

images: ## Build the Docker images (needs Docker and internet)
	docker build -f worker/Dockerfile.gpu -t facefleet/worker-gpu:$(IMAGE_TAG) .
	docker build -f worker/Dockerfile -t facefleet/worker-cpu:$(IMAGE_TAG) .
	docker build -f producer/Dockerfile -t facefleet/producer:$(IMAGE_TAG) .

lint: setup ## go vet, golangci-lint (.golangci.yml) and chart lint
	$(GO) vet ./...
	golangci-lint run ./...
	helm lint --strict charts/facefleet

clean: ## Remove build outputs and local stack state
	rm -rf $(BIN) .data out

.PHONY: help setup build demo up test bench console models ict images lint clean
