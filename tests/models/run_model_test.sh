#!/bin/sh
# One real-model test: runs MODEL on its BATCH_TAG input with ONNX Runtime (reference) and with the lowbit
# CLI exactly as a user would, then compares (compare_outputs.py; PyTorch's output too when there is one).
#   run_model_test.sh MODELS_DIR LOWBIT_BIN MODEL BATCH_TAG
# MODELS_DIR is what generate_models.sh wrote. NODE_PATH must reach onnxruntime-node.
set -eu
models=${1:?usage: run_model_test.sh MODELS_DIR LOWBIT_BIN MODEL BATCH_TAG}
lowbit=${2:?}
model=${3:?}
tag=${4:?}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}

input_name=$(cd "$here" && "$python" -c "import make_inputs, sys; print(make_inputs.MODELS[sys.argv[1]]['input'])" "$model")
input="$models/inputs/${model}_${tag}.npy"
work="$models/runs/${model}_${tag}"
rm -rf "$work"
mkdir -p "$work"

node "$here/ort_run.js" "$models/$model.onnx" "$work/ort" "$input_name=$input"

start=$(date +%s.%N)
"$lowbit" run "$models/$model.onnx" --input "$input_name=$input" --output-dir "$work/lowbit" --threads 2
end=$(date +%s.%N)
echo "lowbit run: $(awk "BEGIN { printf \"%.2f\", $end - $start }") s (2 threads)"

torch_ref="$models/reference/${model}_${tag}.torch.npy"
set -- --label "${model}_${tag}" --lowbit "$work/lowbit" --ort "$work/ort"
[ -f "$torch_ref" ] && set -- "$@" --torch "$torch_ref"
"$python" "$here/compare_outputs.py" "$@"
