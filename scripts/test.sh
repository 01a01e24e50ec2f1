#!/usr/bin/env bash
# Builds lowbit (Release, Ninja) in build/ and runs the whole test suite with ctest.
#   ./scripts/test.sh              everything
#   ./scripts/test.sh -L unit      extra arguments go to ctest (-L cli, -R Npy, ...)
# LOWBIT_SKIP_SETUP=1 skips scripts/setup.sh (dependencies already installed);
# LOWBIT_BUILD_DIR picks the build folder (default build).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

if [ "${LOWBIT_SKIP_SETUP:-0}" != 1 ]; then
  ./scripts/setup.sh
fi

BUILD="${LOWBIT_BUILD_DIR:-build}"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -- -j2
ctest --test-dir "$BUILD" --output-on-failure -j2 "$@"
