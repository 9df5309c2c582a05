#!/usr/bin/env bash
# Installs the pinned MediaPipe JS solution package (models/mediapipe-npm) into
# .cache/mediapipe-npm: the source of the TFLite models that
# models/cmd/tflite2onnx converts and its tests re-convert. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/mediapipe-npm"
pkg="$dest/node_modules/@mediapipe/face_mesh/package.json"
if [[ -f "$pkg" ]] && cmp -s "$root/models/mediapipe-npm/package-lock.json" "$dest/package-lock.json"; then
  echo "@mediapipe/face_mesh already in $dest"
  exit 0
fi
mkdir -p "$dest"
cp "$root/models/mediapipe-npm/package.json" "$root/models/mediapipe-npm/package-lock.json" "$dest/"
(cd "$dest" && npm ci --silent --no-audit --no-fund >/dev/null)
echo "installed @mediapipe/face_mesh in $dest"
