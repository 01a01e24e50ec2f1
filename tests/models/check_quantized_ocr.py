#!/usr/bin/python3
"""Checks of quantize_ocr_test.sh on a quantized (QDQ) PaddleOCR model and its outputs.

    check_quantized_ocr.py model --fp32 FILE --int8 FILE [--max-ratio R] [--label NAME]
        file sizes (with --max-ratio: int8 <= R x the FP32 file); onnx.checker.check_model(full_check=True); opset >= 13;
        every Conv/ConvTranspose weight is an int8 tensor behind a DequantizeLinear (no float weight left).
    check_quantized_ocr.py iou --ref DIR --test DIR [--threshold 0.3] [--min 0.9] [--label NAME]
        the detector's probability maps (the single .npy in each folder, N x 1 x H x W) binarized at
        prob > threshold: IoU(test, ref) per page and their mean; every page must reach --min.
    check_quantized_ocr.py iou ... [--min-mean M]: also the mean IoU over the pages must reach M.
    check_quantized_ocr.py recall --ref DIR --test DIR --boxes FILE [--threshold 0.3] [--match-iou 0.5] [--label NAME]
        text-box recall against the renderer's ground-truth line boxes (render_text_pages.py --boxes): the map
        binarized at prob > threshold, its 4-connected components' boxes expanded like PaddleOCR's DB post-process
        (unclip ratio 1.5: offset = area x 1.5 / perimeter), a true box found when one expanded box overlaps it with
        IoU >= --match-iou. The quantized model's recall must equal (or exceed) the FP32 model's.
    check_quantized_ocr.py agree --ref DIR --test DIR [--labels FILE] [--min 0.95] [--max-accuracy-drop P] [--label NAME]
        the direction classifier's N x 2 outputs: fraction of samples where argmax(test) == argmax(ref)
        (--labels: the true 0/180 per sample, to print each model's accuracy too).
Prints one line per check; exit status 1 when a check fails.
"""
import argparse
import os
import shutil
import sys
import tempfile

import numpy as np


def load_single_npy(folder):
    files = sorted(f for f in os.listdir(folder) if f.endswith(".npy"))
    if len(files) != 1:
        raise SystemExit("%s: expected one .npy output, found %s" % (folder, files or "none"))
    return np.load(os.path.join(folder, files[0]))


def check_model(args):
    import onnx
    from onnx import numpy_helper

    ok = True
    fp32_size, int8_size = os.path.getsize(args.fp32), os.path.getsize(args.int8)
    ratio = int8_size / fp32_size
    size_ok = args.max_ratio is None or ratio <= args.max_ratio
    ok &= size_ok
    print("%s: size %d -> %d bytes (%.1f KiB -> %.1f KiB), ratio %.3f%s" % (
        args.label, fp32_size, int8_size, fp32_size / 1024, int8_size / 1024, ratio,
        "" if args.max_ratio is None else " (limit %.2f): %s" % (args.max_ratio, "ok" if size_ok else "FAIL")))

    # check_model(path, full_check=True) runs onnx.shape_inference.infer_shapes_path, which rewrites the file
    # in place (adding value_info); check a copy so that the model under test stays as lowbit wrote it.
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(args.int8))
        shutil.copyfile(args.int8, copy)
        try:
            onnx.checker.check_model(copy, full_check=True)
            print("%s: onnx.checker.check_model(full_check=True): ok" % args.label)
        except Exception as e:  # the checker raises ValidationError, shape inference InferenceError
            ok = False
            print("%s: onnx.checker.check_model(full_check=True): FAIL: %s" % (args.label, str(e).splitlines()[0]))

    m = onnx.load(args.int8)
    opset = {o.domain: o.version for o in m.opset_import}
    version = opset.get("", opset.get("ai.onnx", 0))
    opset_ok = version >= 13
    ok &= opset_ok
    print("%s: opset %d (>= 13): %s" % (args.label, version, "ok" if opset_ok else "FAIL"))

    # Where each tensor comes from: initializers, Constant nodes, other nodes.
    consts = {t.name: t for t in m.graph.initializer}
    producers = {}
    for n in m.graph.node:
        for o in n.output:
            producers[o] = n
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = a.t
    float_weights, int8_weights, bad = 0, 0, []
    convs = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    for n in convs:
        w = n.input[1]
        if w in consts:  # a float (or other) weight fed straight into the Conv
            bad.append("%s %s: weight '%s' is a %s constant" % (
                n.op_type, n.name, w, onnx.TensorProto.DataType.Name(consts[w].data_type)))
            float_weights += 1
            continue
        dq = producers.get(w)
        q = dq.input[0] if dq is not None and dq.op_type == "DequantizeLinear" else None
        if q in consts and consts[q].data_type == onnx.TensorProto.INT8:
            zp = numpy_helper.to_array(consts[dq.input[2]]) if len(dq.input) > 2 and dq.input[2] in consts else None
            if zp is not None and np.any(zp != 0):
                bad.append("%s %s: weight zero point is not 0" % (n.op_type, n.name))
            int8_weights += 1
        else:
            bad.append("%s %s: weight '%s' is not an int8 constant behind a DequantizeLinear (from %s)" % (
                n.op_type, n.name, w, dq.op_type if dq is not None else "a graph input"))
    weights_ok = not bad and int8_weights > 0
    ok &= weights_ok
    # Float constants other than Q/DQ scales (what the model still stores in float, e.g. Add/Mul operands).
    scales = {n.input[1] for n in m.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")}
    float_values = sum(int(np.prod(t.dims)) for name, t in consts.items()
                       if t.data_type == onnx.TensorProto.FLOAT and name not in scales)
    print("%s: %d Conv/ConvTranspose, %d with int8 weights, %d with float weights; %d float values in constants "
          "other than Q/DQ scales: %s" % (
              args.label, len(convs), int8_weights, float_weights, float_values, "ok" if weights_ok else "FAIL"))
    for line in bad[:10]:
        print("  " + line)
    return ok


def check_iou(args):
    ref, test = load_single_npy(args.ref), load_single_npy(args.test)
    if ref.shape != test.shape:
        print("%s: shape %s differs from the reference %s: FAIL" % (args.label, test.shape, ref.shape))
        return False
    ious = []
    for i in range(ref.shape[0]):
        a, b = ref[i] > args.threshold, test[i] > args.threshold
        union = np.logical_or(a, b).sum()
        iou = np.logical_and(a, b).sum() / union if union else 1.0
        ious.append(iou)
        print("%s: page %d: IoU %.4f (text pixels: reference %.2f%%, quantized %.2f%%, max |diff| %.3f)%s" % (
            args.label, i, iou, 100 * a.mean(), 100 * b.mean(), np.abs(ref[i] - test[i]).max(),
            "" if iou >= args.min else "  < %.2f" % args.min))
    ok = min(ious) >= args.min and (args.min_mean is None or np.mean(ious) >= args.min_mean)
    print("%s: mean IoU %.4f, min %.4f over %d pages (prob > %.2f; limit %.2f per page%s): %s" % (
        args.label, np.mean(ious), min(ious), len(ious), args.threshold, args.min,
        "" if args.min_mean is None else ", %.2f mean" % args.min_mean, "ok" if ok else "FAIL"))
    return ok


def component_boxes(mask):
    """Bounding boxes (x0, y0, x1, y1), exclusive ends, of the 4-connected components of a 2-D bool mask:
    runs per row, joined with the overlapping runs of the row above (union-find)."""
    parent = []

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    boxes, prev = [], []
    for y in range(mask.shape[0]):
        row = np.concatenate(([0], mask[y].astype(np.int8), [0]))
        d = np.diff(row)
        starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
        cur = []
        for x0, x1 in zip(starts, ends):
            i = len(parent)
            parent.append(i)
            boxes.append([x0, y, x1, y + 1])
            for (p0, p1, j) in prev:
                if p0 < x1 and x0 < p1:
                    a, b = find(i), find(j)
                    if a != b:
                        parent[a] = b
            cur.append((x0, x1, i))
        prev = cur
    merged = {}
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        r = find(i)
        if r in merged:
            m = merged[r]
            merged[r] = [min(m[0], x0), min(m[1], y0), max(m[2], x1), max(m[3], y1)]
        else:
            merged[r] = [x0, y0, x1, y1]
    return list(merged.values())


def box_iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def recall(maps, truth, threshold, match_iou):
    found = total = 0
    for page, gt in zip(maps, truth):
        boxes = []
        for (x0, y0, x1, y1) in component_boxes(page.reshape(page.shape[-2:]) > threshold):
            w, h = x1 - x0, y1 - y0
            if min(w, h) < 3:  # DB's min_size: specks are not text
                continue
            d = w * h * 1.5 / (2 * (w + h))
            boxes.append([x0 - d, y0 - d, x1 + d, y1 + d])
        for g in gt:
            total += 1
            found += any(box_iou(g, b) >= match_iou for b in boxes)
    return found, total


def check_recall(args):
    import json

    ref, test = load_single_npy(args.ref), load_single_npy(args.test)
    truth = json.load(open(args.boxes))
    if ref.shape != test.shape or len(truth) != ref.shape[0]:
        print("%s: %d pages of boxes for maps %s / %s: FAIL" % (args.label, len(truth), ref.shape, test.shape))
        return False
    rf, total = recall(ref, truth, args.threshold, args.match_iou)
    tf, _ = recall(test, truth, args.threshold, args.match_iou)
    ok = tf >= rf
    print("%s: text-box recall %d/%d (%.1f%%) vs FP32 %d/%d (%.1f%%) (prob > %.2f, box IoU >= %.2f): %s" % (
        args.label, tf, total, 100.0 * tf / max(1, total), rf, total, 100.0 * rf / max(1, total), args.threshold,
        args.match_iou, "ok" if ok else "FAIL"))
    return ok


def check_agree(args):
    ref, test = load_single_npy(args.ref), load_single_npy(args.test)
    if ref.shape != test.shape or ref.ndim != 2:
        print("%s: shape %s vs reference %s: FAIL" % (args.label, test.shape, ref.shape))
        return False
    r, t = ref.argmax(1), test.argmax(1)
    agree = float((r == t).mean())
    extra = ""
    if args.labels:
        truth = np.loadtxt(args.labels, dtype=np.int64).reshape(-1) == 180
        extra = "; accuracy vs the true rotation: fp32 %.1f%%, quantized %.1f%%" % (
            100 * (r == truth).mean(), 100 * (t == truth).mean())
    ok = agree >= args.min
    if args.labels and args.max_accuracy_drop is not None:
        drop = 100 * ((r == truth).mean() - (t == truth).mean())
        ok = ok and drop <= args.max_accuracy_drop
        extra += " (drop %.2f points, limit %.2f)" % (drop, args.max_accuracy_drop)
    print("%s: argmax agrees with fp32 on %d/%d crops (%.1f%%, limit %.0f%%), max |diff| %.4f%s: %s" % (
        args.label, int((r == t).sum()), len(r), 100 * agree, 100 * args.min, np.abs(ref - test).max(), extra,
        "ok" if ok else "FAIL"))
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("model")
    p.add_argument("--fp32", required=True)
    p.add_argument("--int8", required=True)
    p.add_argument("--max-ratio", type=float, help="fail when int8 size > this x the fp32 size")
    p.set_defaults(func=check_model)
    p = sub.add_parser("iou")
    p.add_argument("--ref", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--threshold", type=float, default=0.3)
    p.add_argument("--min", type=float, default=0.9)
    p.add_argument("--min-mean", type=float)
    p.set_defaults(func=check_iou)
    p = sub.add_parser("recall")
    p.add_argument("--ref", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--boxes", required=True)
    p.add_argument("--threshold", type=float, default=0.3)
    p.add_argument("--match-iou", type=float, default=0.5)
    p.set_defaults(func=check_recall)
    p = sub.add_parser("agree")
    p.add_argument("--ref", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--labels")
    p.add_argument("--min", type=float, default=0.95)
    p.add_argument("--max-accuracy-drop", type=float, help="percentage points of accuracy (needs --labels)")
    p.set_defaults(func=check_agree)
    for p in sub.choices.values():
        p.add_argument("--label", default="quantized")
    args = ap.parse_args(argv)
    return 0 if args.func(args) else 1


if __name__ == "__main__":
    sys.exit(main())
