#!/usr/bin/env bash
# libFuzzer runs of lowbit's parsers (fuzz/, issue 7). Builds the fuzz tree (build-fuzz/, clang, -DLOWBIT_FUZZ=ON)
# when needed and makes the seed corpora (fuzz/make_seeds.sh).
#   scripts/fuzz.sh TARGET SECONDS   fuzz one target for SECONDS; the corpus grows in build-fuzz/corpus/TARGET,
#                                    crashing inputs land in build-fuzz/artifacts/TARGET/
#   scripts/fuzz.sh --replay         CI: every target runs once over its seeds and fuzz/regressions/ (no fuzzing);
#                                    fails on any crash, sanitizer report or leak
#   scripts/fuzz.sh --list           the targets
# Targets: fuzz_import (ONNX import + validation + optimize_graph), fuzz_npy, fuzz_trt_cache, fuzz_calib_table.
# LOWBIT_FUZZ_BUILD_DIR picks the build folder; LOWBIT_ONNX_CASES_DIR the ONNX conformance cases used as seeds.
# A crashing input becomes a regression: copy it to fuzz/regressions/TARGET/ and add a gtest in tests/unit/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
BUILD="${LOWBIT_FUZZ_BUILD_DIR:-build-fuzz}"
TARGETS="fuzz_import fuzz_npy fuzz_trt_cache fuzz_calib_table"

usage() { sed -n '2,11p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
if [ "$1" = --list ]; then echo "$TARGETS"; exit 0; fi

CXX_CLANG="${LOWBIT_FUZZ_CXX:-$(command -v clang++ || command -v clang++-14)}"
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$CXX_CLANG" \
        -DLOWBIT_FUZZ=ON -DLOWBIT_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" --target fuzz_all -- -j2

if [ -z "${LOWBIT_ONNX_CASES_DIR:-}" ] && [ -d build/onnx_cases ]; then export LOWBIT_ONNX_CASES_DIR="$REPO/build/onnx_cases"; fi
# One seed folder per invocation, so that runs of different targets can go side by side.
SEEDS="$BUILD/seeds/${1#--}"
rm -rf "$SEEDS"
fuzz/make_seeds.sh "$SEEDS" >/dev/null

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

if [ "$1" = --replay ]; then
  failed=0
  for t in $TARGETS; do
    log="$BUILD/replay_$t.log"
    n=$(find "$SEEDS/$t" -type f | wc -l)
    start=$SECONDS
    # File arguments: libFuzzer runs each input once and exits (no fuzzing, no corpus writes).
    if find "$SEEDS/$t" -type f -print0 | sort -z | xargs -0 "$BUILD/bin/$t" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1; then
      echo "$t: $n inputs OK ($((SECONDS - start)) s)"
    else
      echo "$t: FAILED over $n inputs (log: $log):"; tail -40 "$log"; failed=1
    fi
  done
  exit $failed
fi

[ $# -eq 2 ] || usage
TARGET="$1"; SECS="$2"
case " $TARGETS " in *" $TARGET "*) ;; *) echo "unknown target '$TARGET' (one of: $TARGETS)" >&2; exit 2 ;; esac
CORPUS="$BUILD/corpus/$TARGET"
ARTIFACTS="$BUILD/artifacts/$TARGET"
mkdir -p "$CORPUS" "$ARTIFACTS"
log="$BUILD/fuzz_$TARGET.log"
set +e
# New inputs go to the first folder (the kept corpus); the seeds are read only.
"$BUILD/bin/$TARGET" "$CORPUS" "$SEEDS/$TARGET" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="$ARTIFACTS/" -print_final_stats=1 2>&1 | tee "$log" | grep -E '^#[0-9]+ +(INITED|DONE|pulse)|ERROR|SUMMARY|artifact'
rc=${PIPESTATUS[0]}
set -e
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
echo "$TARGET: ${execs:-?} executions in ${SECS} s, corpus $(find "$CORPUS" -type f | wc -l) files ($(du -sh "$CORPUS" | cut -f1)), exit $rc"
[ "$rc" -eq 0 ] || echo "crash/timeout/leak: see $log and $ARTIFACTS/"
exit "$rc"
