#!/usr/bin/env bash
# Builds lowbit and runs the whole test suite with ctest.
#   ./scripts/test.sh                  Release (Ninja) in build/, everything
#   ./scripts/test.sh -L unit          extra arguments go to ctest (-L cli, -R Npy, ...)
#   ./scripts/test.sh --preset asan    ASan+UBSan build (CMakePresets.json) in build-asan/, everything
#   LOWBIT_SANITIZE=1 ./scripts/test.sh    the same as --preset asan
# LOWBIT_SKIP_SETUP=1 skips scripts/setup.sh (dependencies already installed);
# LOWBIT_BUILD_DIR picks the build folder of the default (non-preset) build (default build).
#
# The asan preset reads the generated test inputs from build/test_models and build/onnx_cases (the
# generators are idempotent), so after a Release run it skips the few minutes of PyTorch export.
# Don't run the two suites at the same time on a fresh checkout: both would generate into the same folders.
#
# Sanitized runs: ASAN_OPTIONS/UBSAN_OPTIONS/LSAN_OPTIONS are exported here (before the build too:
# gtest_discover_tests runs the test binary at build time), with scripts/sanitizers/*.supp. A sanitizer
# abort exits with 23, which no CLI test accepts (lowbit exits 0, 1 or 2). As a second net, log_path asks
# for the reports in files under BUILD/sanitizer-logs and the run fails whenever one was written, whatever
# ctest says (with gcc 12's combined ASan+UBSan runtime UBSan reports still went to stderr: exit code 23
# is what catches those).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

PRESET=""
if [ "${1:-}" = "--preset" ]; then
  PRESET="${2:?--preset needs a name (release, asan)}"
  shift 2
elif [ "${LOWBIT_SANITIZE:-0}" = 1 ]; then
  PRESET=asan
fi

if [ "${LOWBIT_SKIP_SETUP:-0}" != 1 ]; then
  ./scripts/setup.sh
fi

if [ -z "$PRESET" ]; then
  BUILD="${LOWBIT_BUILD_DIR:-build}"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -- -j2
  ctest --test-dir "$BUILD" --output-on-failure -j2 "$@"
  exit 0
fi

case "$PRESET" in
  release) BUILD=build ;;
  asan) BUILD=build-asan ;;
  *) echo "unknown preset $PRESET (release, asan)" >&2; exit 2 ;;
esac

if [ "$PRESET" = asan ]; then
  SUPP="$REPO/scripts/sanitizers"
  LOGS="$REPO/$BUILD/sanitizer-logs"
  rm -rf "$LOGS"
  mkdir -p "$LOGS"
  # exitcode=23: a sanitizer abort must not look like lowbit's own exit codes (1 error, 2 usage).
  # detect_leaks=1: lowbit's own leaks fail the run; known leaks of uninstrumented system libraries are
  # suppressed in lsan.supp (see there). halt_on_error + -fno-sanitize-recover: the first report ends the process.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:exitcode=23:strict_init_order=1:check_initialization_order=1:log_path=$LOGS/asan}"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$SUPP/lsan.supp:print_suppressions=0:exitcode=23}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=23:suppressions=$SUPP/ubsan.supp:log_path=$LOGS/ubsan}"
fi

cmake --preset "$PRESET" >/dev/null
cmake --build --preset "$PRESET"
status=0
ctest --preset "$PRESET" "$@" || status=$?

if [ "$PRESET" = asan ] && [ -n "$(ls -A "$LOGS")" ]; then
  echo "sanitizer reports (in $LOGS):" >&2
  for f in "$LOGS"/*; do
    echo "==== $f" >&2
    cat "$f" >&2
  done
  exit 1
fi
exit "$status"
