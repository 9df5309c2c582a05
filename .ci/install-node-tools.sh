#!/usr/bin/env bash
# Installs the Khronos glTF validator (npm gltf-validator) into .cache/node.
# Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/node"
if [[ -f "$dest/node_modules/gltf-validator/package.json" ]]; then
  echo "gltf-validator already in $dest"
  exit 0
fi
mkdir -p "$dest"
npm install --silent --no-audit --no-fund --prefix "$dest" gltf-validator@2.0.0-dev.3.10 >/dev/null
echo "installed gltf-validator in $dest"
