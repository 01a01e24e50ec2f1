#!/usr/bin/python3
"""Effect of cross-layer equalization on per-layer SQNR (issue 6's mobilenet_v2 proof), measured with
`lowbit compare` in one run:

    bench/equalization_effect.py [--model build/test_models/mobilenet_v2.onnx] [--lowbit build/bin/lowbit]
                                 [--weights per-tensor|per-channel] [--work DIR]

Quantizes the model three times from the same calibration samples (plain, --equalize, --equalize
--equalize-relu6), compares each with the FP32 model on held-out samples, and prints, per Conv output, the SQNR
the layer adds alone and the accumulated SQNR for each variant, then the output SQNR. Per-tensor weights are
the default: that is where equalization matters (one scale for channels of very different ranges).
The torchvision models here have random weights (no network on the test machines), whose channel ranges are
tamer than trained ones: expect smaller gains than on a trained MobileNet.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="build/test_models/mobilenet_v2.onnx")
    ap.add_argument("--lowbit", default="build/bin/lowbit")
    ap.add_argument("--weights", choices=["per-tensor", "per-channel"], default="per-tensor")
    ap.add_argument("--work", default="build/bench_equalization")
    ap.add_argument("--threads", default="2")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    rng = np.random.default_rng(0)
    calib, held = os.path.join(args.work, "calib.npy"), os.path.join(args.work, "held.npy")
    np.save(calib, rng.standard_normal((32, 3, 224, 224)).astype(np.float32))
    np.save(held, rng.standard_normal((4, 3, 224, 224)).astype(np.float32))
    variants = {"plain": [], "equalize": ["--equalize"], "equalize+relu6": ["--equalize", "--equalize-relu6"]}
    reports = {}
    for name, flags in variants.items():
        out = os.path.join(args.work, name + ".onnx")
        cmd = [args.lowbit, "quantize", args.model, "--calib", calib, "-o", out, "--threads", args.threads, "--quiet"]
        if args.weights == "per-tensor":
            cmd.append("--per-tensor-weights")
        print("+ " + " ".join(cmd + flags), file=sys.stderr)
        subprocess.run(cmd + flags, check=True)
        js = os.path.join(args.work, name + ".json")
        subprocess.run([args.lowbit, "compare", args.model, out, "--input", held, "--json", js, "--quiet",
                        "--threads", args.threads], check=True, stdout=subprocess.DEVNULL)
        reports[name] = json.load(open(js))

    def by_tensor(r):
        return {L["tensor"]: L for L in r["layers"]}

    rows = [L for L in reports["plain"]["layers"] if L["op_type"] == "Conv"]
    tables = {k: by_tensor(r) for k, r in reports.items()}
    fmt = lambda m: "exact" if m and m.get("exact") else ("%.1f" % m["sqnr_db"] if m and m.get("sqnr_db") is not None else "-")
    print("per Conv output: SQNR (dB) added by the layer alone / accumulated, %s weights" % args.weights)
    print("%-48s" % "tensor" + "".join("%24s" % k for k in variants))
    gains = []
    for L in rows:
        cells = []
        for k in variants:
            m = tables[k].get(L["tensor"])
            cells.append("%24s" % ("%s / %s" % (fmt(m["local"]), fmt(m["accumulated"])) if m else "-"))
        a, b = tables["plain"].get(L["tensor"]), tables["equalize+relu6"].get(L["tensor"])
        if a and b and a["local"] and b["local"] and a["local"]["sqnr_db"] and b["local"]["sqnr_db"]:
            gains.append(b["local"]["sqnr_db"] - a["local"]["sqnr_db"])
        name = L["tensor"] if len(L["tensor"]) <= 46 else "..." + L["tensor"][-43:]
        print("%-48s" % name + "".join(cells))
    print("%-48s" % "output SQNR (accumulated)" + "".join(
        "%24s" % fmt(r["outputs"][0]["accumulated"]) for r in reports.values()))
    if gains:
        print("layer-alone SQNR gain of equalize+relu6 over plain: median %+.1f dB, min %+.1f, max %+.1f over %d convs"
              % (np.median(gains), min(gains), max(gains), len(gains)))


if __name__ == "__main__":
    main()
