#!/usr/bin/env bash
# Installs what the tests and the local stack need, idempotently:
#   redis-server, chromium, libjpeg-turbo and libwebp (Debian), ONNX Runtime CPU library (npm), gltf-validator (npm),
#   the web console's pinned npm packages (npm ci: esbuild, three, playwright-core), helm (go install).
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
# Debian's Chromium for the console's browser test (playwright-core drives it;
# never a downloaded browser).
if [[ ! -x /usr/bin/chromium ]]; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    echo "installing chromium (apt-get, a minute or two the first time)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "chromium is missing: install it (Debian: sudo apt-get install chromium)" >&2
    exit 1
  fi
fi
# The console's build and test packages, exactly as package-lock.json pins
# them; redone only when the lock file changes.
console="$here/../producer/internal/console/web"
stamp="$console/node_modules/.facefleet-lock.sha256"
want="$(sha256sum "$console/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "installing the console's npm packages (npm ci)"
  (cd "$console" && npm ci --silent --no-audit --no-fund >/dev/null)
  echo "$want" > "$stamp"
fi
# libjpeg-turbo: the worker's JPEG decoder (cgo: turbojpeg.h, and jpeglib.h with
# the static libjpeg.a for region decodes) and djpeg, the reference its tests
# compare against.
if [[ ! -f /usr/include/turbojpeg.h ]] || [[ ! -f /usr/include/jpeglib.h ]] || ! command -v djpeg >/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends libturbojpeg0-dev libjpeg62-turbo-dev libjpeg-turbo-progs >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends libturbojpeg0-dev libjpeg62-turbo-dev libjpeg-turbo-progs >/dev/null; }
  else
    echo "libjpeg-turbo is missing: install it (Debian: sudo apt-get install libturbojpeg0-dev libjpeg62-turbo-dev libjpeg-turbo-progs)" >&2
    exit 1
  fi
fi
# libpng: the worker's decoder of plain 8-bit PNGs (cgo, png.h; image/png
# decodes the rest and everything with CGO_ENABLED=0 or -tags purepng).
if [[ ! -f /usr/include/png.h ]]; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends libpng-dev >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends libpng-dev >/dev/null; }
  else
    echo "libpng is missing: install it (Debian: sudo apt-get install libpng-dev)" >&2
    exit 1
  fi
fi
# libwebp: the worker's WebP texture writer and WebP decoder (cgo, webp/encode.h,
# webp/decode.h; uv_format "webp"), and dwebp (Debian webp), the reference the
# decoder's tests compare against.
if [[ ! -f /usr/include/webp/encode.h ]] || ! command -v dwebp >/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends libwebp-dev webp >/dev/null \
      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends libwebp-dev webp >/dev/null; }
  else
    echo "libwebp is missing: install it (Debian: sudo apt-get install libwebp-dev webp)" >&2
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
# golangci-lint for `make lint` (.golangci.yml), pinned; from the module proxy.
if ! "$gobin/golangci-lint" version 2>/dev/null | grep -q 'version 2\.15\.0 '; then
  echo "installing golangci-lint v2.15.0 (go install, about two minutes the first time)"
  go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
fi
if ! command -v nats >/dev/null && [[ ! -x "$gobin/nats" ]]; then
  # The third-party contract test publishes with the real NATS CLI.
  echo "installing the nats CLI v0.5.0 (go install, about a minute the first time)"
  go install github.com/nats-io/natscli/nats@v0.5.0
fi
