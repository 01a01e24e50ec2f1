#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets into OUT_DIR/<target>/:
#   fuzz_import       tests/cli/make_models.py's tiny models + the ONNX node conformance models (<= 64 KiB each)
#                     + fuzz/seeds/fuzz_import (committed QDQ models: ONNX Runtime / TensorRT styles from
#                     tests/models/ort_qdq_test.py and a lowbit-quantized CNN, so lower_qdq and the QLinear ops
#                     get fuzzed)
#   fuzz_npy          make_models.py's .npy files + every dtype, byte order and format version numpy writes
#                     + fuzz/seeds/fuzz_npy (committed, so the FuzzInputs gtest replays them too)
#   fuzz_trt_cache    fuzz/seeds/fuzz_trt_cache (hand-written, committed)
#   fuzz_calib_table  fuzz/seeds/fuzz_calib_table (hand-written, committed)
# plus, for every target, fuzz/seeds/<target> and fuzz/regressions/<target> (inputs that once crashed).
#   fuzz/make_seeds.sh OUT_DIR
# The conformance cases come from $LOWBIT_ONNX_CASES_DIR, else build/onnx_cases (skipped if neither exists).
# Needs /usr/bin/python3 with python3-onnx and python3-numpy (Debian), like the CLI tests.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$1"
TARGETS="fuzz_import fuzz_npy fuzz_trt_cache fuzz_calib_table"
for t in $TARGETS; do
  mkdir -p "$OUT/$t"
  for d in "$REPO/fuzz/seeds/$t" "$REPO/fuzz/regressions/$t"; do
    [ -d "$d" ] && find "$d" -maxdepth 1 -type f -exec cp {} "$OUT/$t/" \;
  done
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
/usr/bin/python3 "$REPO/tests/cli/make_models.py" "$TMP/models" >/dev/null
cp "$TMP"/models/*.onnx "$OUT/fuzz_import/"
cp "$TMP"/models/*.npy "$OUT/fuzz_npy/"

CASES="${LOWBIT_ONNX_CASES_DIR:-$REPO/build/onnx_cases}"
if [ -d "$CASES" ]; then
  # Named after the case folder (every case's model is called model.onnx).
  find "$CASES" -name model.onnx -size -64k | while read -r m; do
    cp "$m" "$OUT/fuzz_import/$(basename "$(dirname "$m")").onnx"
  done
else
  echo "make_seeds.sh: no ONNX conformance cases at $CASES (set LOWBIT_ONNX_CASES_DIR); using the tiny models only" >&2
fi

/usr/bin/python3 - "$OUT/fuzz_npy" <<'PY'
import io, sys
import numpy as np
from numpy.lib import format as npf
out = sys.argv[1]
dtypes = ["?", "i1", "u1", "<i2", ">i2", "<u2", "<i4", ">u4", "<i8", "<u8", "<f2", ">f2", "<f4", ">f4", "<f8", ">f8"]
for dt in dtypes:
    a = (np.arange(6) % 3).astype(dt).reshape(2, 3)
    np.save(f"{out}/gen_{dt.replace('<', 'le').replace('>', 'be').replace('?', 'bool')}.npy", a)
np.save(f"{out}/gen_scalar.npy", np.float32(1.5))
np.save(f"{out}/gen_empty.npy", np.zeros((0, 4), np.float32))
np.save(f"{out}/gen_fortran.npy", np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
for version in [(1, 0), (2, 0), (3, 0)]:
    b = io.BytesIO()
    npf.write_array(b, np.arange(4, dtype=np.int32), version=version)
    open(f"{out}/gen_v{version[0]}.npy", "wb").write(b.getvalue())
PY
for t in $TARGETS; do echo "$t: $(ls "$OUT/$t" | wc -l) seeds"; done
