#!/bin/sh
# `lowbit quantize` on a torchvision model (random weights): the QDQ file must be at most MAX_RATIO of the FP32
# file, pass ONNX's full checker, and run in ONNX Runtime close to the FP32 model (SQNR of the outputs).
#   run_quantize_size_test.sh MODELS_DIR LOWBIT_BIN MODEL MAX_RATIO
set -eu
models=${1:?usage: run_quantize_size_test.sh MODELS_DIR LOWBIT_BIN MODEL MAX_RATIO}
lowbit=${2:?}
model=${3:?}
max_ratio=${4:?}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
work="$models/runs/${model}_quantize"
rm -rf "$work"
mkdir -p "$work"

# Calibrate on the b2 input (2 samples), evaluate on the b1 input (not used for calibration).
"$lowbit" quantize "$models/$model.onnx" --calib "input=$models/inputs/${model}_b2.npy" -o "$work/int8.onnx" --threads 2
node "$here/ort_run.js" "$models/$model.onnx" "$work/fp32" "input=$models/inputs/${model}_b1.npy"
node "$here/ort_run.js" "$work/int8.onnx" "$work/int8" "input=$models/inputs/${model}_b1.npy"
# --reduce-range (7-bit weights, for CPUs without VNNI): codes within [-64, 64], still close to FP32.
"$lowbit" quantize "$models/$model.onnx" --calib "input=$models/inputs/${model}_b2.npy" -o "$work/int8_7bit.onnx" \
  --threads 2 --reduce-range -q
node "$here/ort_run.js" "$work/int8_7bit.onnx" "$work/int8_7bit" "input=$models/inputs/${model}_b1.npy"
"$python" - "$models/$model.onnx" "$work" "$max_ratio" <<'PY'
import os, sys
import numpy as np
import onnx
from onnx import numpy_helper
fp32, work, max_ratio = sys.argv[1], sys.argv[2], float(sys.argv[3])
m7 = onnx.load(os.path.join(work, "int8_7bit.onnx"))
w7 = [numpy_helper.to_array(i) for i in m7.graph.initializer]
w7 = [w for w in w7 if w.dtype == np.int8 and w.ndim >= 2]
assert w7 and max(np.abs(w).max() for w in w7) == 64, "--reduce-range weights must span [-64, 64]"
ref = np.load(os.path.join(work, "fp32", "output.npy"))
b7 = np.load(os.path.join(work, "int8_7bit", "output.npy"))
sqnr7 = 10 * np.log10((ref ** 2).sum() / ((ref - b7) ** 2).sum())
print(f"--reduce-range: {len(w7)} weights within [-64, 64]; ONNX Runtime int8 vs fp32 SQNR {sqnr7:.1f} dB")
assert sqnr7 >= 20, f"--reduce-range SQNR {sqnr7:.1f} dB is too low"
q = os.path.join(work, "int8.onnx")
ratio = os.path.getsize(q) / os.path.getsize(fp32)
onnx.checker.check_model(q, full_check=True)
m = onnx.load(q)
assert m.opset_import[0].version >= 13
weights = {i.name: i for i in m.graph.initializer}
conv_w = [n.input[1] for n in m.graph.node if n.op_type == "Conv"]
assert all(w.endswith("_dq") for w in conv_w), "every Conv weight must come from a DequantizeLinear"
a = np.load(os.path.join(work, "fp32", "output.npy"))
b = np.load(os.path.join(work, "int8", "output.npy"))
sqnr = 10 * np.log10((a ** 2).sum() / ((a - b) ** 2).sum())
print(f"size ratio {ratio:.4f} (max {max_ratio}); ONNX Runtime int8 vs fp32 SQNR {sqnr:.1f} dB")
assert ratio <= max_ratio, f"quantized file is {ratio:.4f} x the FP32 file (max {max_ratio})"
assert sqnr >= 20, f"SQNR {sqnr:.1f} dB is too low"
PY
