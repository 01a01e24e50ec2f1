#!/bin/sh
# upgrade_opset against ONNX Runtime: every case of make_old_opset_cases.py (one rewritten op at its old
# opset) is upgraded and exported by lowbit_upgrade_export; then
#   ONNX Runtime on the exported file     must match ONNX Runtime on the original (1e-6 relative),
#   lowbit's reference kernels, unoptimized, on the exported file must match them on the original exactly,
#   lowbit (default backend) on the exported file must match ONNX Runtime on the original (1e-5 relative).
# Outputs listed in the case's third column are left out of the ONNX Runtime comparisons (the inference
# mask of Dropout: ONNX Runtime writes all false before opset 12 and all true from 12; lowbit all true).
#   run_old_opset_cases.sh WORK_DIR UPGRADE_EXPORT_BIN LOWBIT_BIN
# NODE_PATH must reach onnxruntime-node.
set -eu
work=${1:?usage: run_old_opset_cases.sh WORK_DIR UPGRADE_EXPORT_BIN LOWBIT_BIN}
tool=${2:?}
lowbit=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}

rm -rf "$work"
mkdir -p "$work"
"$python" "$here/make_old_opset_cases.py" "$work" >"$work/cases.txt"
failed=""
total=0
while read -r name target skip_ort; do
  total=$((total + 1))
  d="$work/$name"
  ok=1
  {
    "$tool" "$d/model.onnx" "$d/exported.onnx" "$target" &&
      node "$here/ort_run.js" "$d/model.onnx" "$d/ort_original" "x=$d/x.npy" &&
      node "$here/ort_run.js" "$d/exported.onnx" "$d/ort_exported" "x=$d/x.npy" &&
      "$lowbit" run "$d/model.onnx" --input "x=$d/x.npy" --output-dir "$d/lowbit_ref_original" --threads 1 \
        --backend ref --no-optimize &&
      "$lowbit" run "$d/exported.onnx" --input "x=$d/x.npy" --output-dir "$d/lowbit_ref_exported" --threads 1 \
        --backend ref --no-optimize &&
      "$lowbit" run "$d/exported.onnx" --input "x=$d/x.npy" --output-dir "$d/lowbit_exported" --threads 1
  } >"$d/log.txt" 2>&1 || ok=0
  if [ "$ok" = 1 ]; then
    for o in $(echo "${skip_ort:-}" | tr ',' ' '); do
      echo "$name: output $o not compared with ONNX Runtime"
      rm -f "$d/ort_original/$o.npy" "$d/ort_exported/$o.npy"
    done
    "$python" "$here/compare_outputs.py" --label "onnxruntime($name opset $target)" --lowbit "$d/ort_exported" \
      --ort "$d/ort_original" --ref-name "onnxruntime(original)" --tol 1e-6 || ok=0
    "$python" "$here/compare_outputs.py" --label "lowbit ref($name opset $target)" --lowbit "$d/lowbit_ref_exported" \
      --ort "$d/lowbit_ref_original" --ref-name "lowbit ref(original)" --tol 0 || ok=0
    "$python" "$here/compare_outputs.py" --label "lowbit($name opset $target)" --lowbit "$d/lowbit_exported" \
      --ort "$d/ort_original" --ref-name "onnxruntime(original)" --tol 1e-5 || ok=0
  else
    echo "$name: FAIL"
    sed 's/^/    /' "$d/log.txt"
  fi
  [ "$ok" = 1 ] || failed="$failed $name"
done <"$work/cases.txt"
echo
if [ -n "$failed" ]; then
  echo "FAILED:$failed"
  exit 1
fi
echo "all $total old-opset cases: upgraded and exported files agree with the originals"
