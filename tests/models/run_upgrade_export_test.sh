#!/bin/sh
# Opset upgrade + ONNX export of a real model: MODEL is upgraded to OPSET and exported (lowbit_upgrade_export),
# then the exported file must
#   (a) pass onnx.checker.check_model(path, full_check=True) and declare the new opset,
#   (b) give ONNX Runtime the original model's outputs (ONNX Runtime on the original file) within 1e-5 relative,
#   (c) give lowbit's CLI the same: within 1e-5 of lowbit on the original file, within 1e-4 of ONNX Runtime
#       (the tolerance of the other real-model tests).
# With EXTERNAL_DATA_THRESHOLD (bytes), the weights must go to "<file>.data" (ONNX external data).
#   run_upgrade_export_test.sh MODELS_DIR UPGRADE_EXPORT_BIN LOWBIT_BIN MODEL BATCH_TAG OPSET [EXTERNAL_DATA_THRESHOLD]
set -eu
models=${1:?usage: run_upgrade_export_test.sh MODELS_DIR UPGRADE_EXPORT_BIN LOWBIT_BIN MODEL BATCH_TAG OPSET}
tool=${2:?}
lowbit=${3:?}
model=${4:?}
tag=${5:?}
opset=${6:?}
threshold=${7:-}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}

input_name=$(cd "$here" && "$python" -c "import make_inputs, sys; print(make_inputs.MODELS[sys.argv[1]]['input'])" "$model")
input="$models/inputs/${model}_${tag}.npy"
work="$models/runs/${model}_${tag}_opset${opset}"
rm -rf "$work"
mkdir -p "$work"
exported="$work/${model}.opset${opset}.onnx"

"$tool" "$models/$model.onnx" "$exported" "$opset" $threshold
if [ -n "$threshold" ]; then
  [ -s "$exported.data" ] || { echo "expected external data in $exported.data" >&2; exit 1; }
  echo "external data: $(wc -c <"$exported") byte model, $(wc -c <"$exported.data") byte $exported.data"
fi

"$python" - "$exported" "$opset" <<'PY'
import sys
import onnx
path, opset = sys.argv[1], int(sys.argv[2])
onnx.checker.check_model(path, full_check=True)
m = onnx.load(path)
versions = {o.domain: o.version for o in m.opset_import}
assert versions.get("", versions.get("ai.onnx")) == opset, versions
print("onnx.checker.check_model(full_check=True): ok; ir_version %d, opset %s, %d nodes"
      % (m.ir_version, versions, len(m.graph.node)))
PY

node "$here/ort_run.js" "$models/$model.onnx" "$work/ort_original" "$input_name=$input"
node "$here/ort_run.js" "$exported" "$work/ort_exported" "$input_name=$input"
"$lowbit" run "$models/$model.onnx" --input "$input_name=$input" --output-dir "$work/lowbit_original" --threads 2
"$lowbit" run "$exported" --input "$input_name=$input" --output-dir "$work/lowbit_exported" --threads 2

status=0
"$python" "$here/compare_outputs.py" --label "onnxruntime(${model}_${tag} opset $opset)" --lowbit "$work/ort_exported" \
  --ort "$work/ort_original" --ref-name "onnxruntime(original)" --tol 1e-5 || status=1
"$python" "$here/compare_outputs.py" --label "lowbit(${model}_${tag} opset $opset)" --lowbit "$work/lowbit_exported" \
  --ort "$work/lowbit_original" --ref-name "lowbit(original)" --tol 1e-5 || status=1
"$python" "$here/compare_outputs.py" --label "lowbit(${model}_${tag} opset $opset)" --lowbit "$work/lowbit_exported" \
  --ort "$work/ort_original" --ref-name "onnxruntime(original)" || status=1
exit $status
