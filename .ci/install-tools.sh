#!/usr/bin/env bash
# Installs what the tests and the local stack need, idempotently:
#   redis-server (Debian), ONNX Runtime CPU library (npm), gltf-validator (npm), helm (go install).
# Each step returns at once when its tool is already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v redis-server >/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  else
    echo "redis-server is missing: install it (Debian: sudo apt-get install redis-server)" >&2
    exit 1
  fi
fi
bash "$here/install-ort.sh"
bash "$here/install-node-tools.sh"
bash "$here/install-mediapipe.sh"
gobin="$(go env GOPATH)/bin"
if ! command -v helm >/dev/null && [[ ! -x "$gobin/helm" ]]; then
  echo "installing helm v4.3.2 (go install, a few minutes the first time)"
  go install helm.sh/helm/v4/cmd/helm@v4.3.2
fi
