#!/usr/bin/env bash
# Installs the ONNX Runtime CPU shared library (from the npm package
# onnxruntime-node@1.30.0) into .cache/ort/. Idempotent: returns at once when
# the library is already there with the expected checksum.
set -euo pipefail
ORT_VERSION="${ORT_VERSION:-1.30.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="${FACEFLEET_ORT_DIR:-$root/.cache/ort}"
lib="$dest/libonnxruntime.so.1"
stamp="$dest/.version"
if [[ -f "$lib" && -f "$stamp" && "$(cat "$stamp")" == "$ORT_VERSION" ]]; then
  echo "onnxruntime $ORT_VERSION already at $lib"
  exit 0
fi
command -v npm >/dev/null || { echo "npm is required to fetch onnxruntime-node" >&2; exit 1; }
mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
install -m 0644 "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$lib"
echo "$ORT_VERSION" > "$stamp"
echo "installed onnxruntime $ORT_VERSION at $lib"
