#!/usr/bin/python3
"""Compares lowbit's outputs with reference outputs: max |lowbit - ref| / max |ref| must be <= TOL per output.

    compare_outputs.py --label NAME --lowbit DIR --ort DIR [--torch FILE] [--tol 1e-4] [--ref-name NAME]

--ort DIR holds ONNX Runtime's outputs as <output name>.npy (every one is checked); --torch FILE is PyTorch's
output for single-output models (--ref-name names the --ort reference in the report). Output files of lowbit are looked up by the output name, also with
characters unsafe in file names replaced by '_'. Exit status 1 when any output is out of tolerance,
missing, or differs in dtype or shape.
"""
import argparse
import os
import re
import sys

import numpy as np


def find_lowbit_output(lowbit_dir, name, n_outputs):
    candidates = [name, re.sub(r"[^A-Za-z0-9._-]", "_", name)]
    for c in candidates:
        p = os.path.join(lowbit_dir, c + ".npy")
        if os.path.isfile(p):
            return p
    files = [f for f in os.listdir(lowbit_dir) if f.endswith(".npy")] if os.path.isdir(lowbit_dir) else []
    if n_outputs == 1 and len(files) == 1:
        return os.path.join(lowbit_dir, files[0])
    return None


def relative_error(actual, ref):
    """max |actual - ref| / max |ref| (max |actual - ref| itself when ref is all zeros), in float64."""
    a, r = actual.astype(np.float64), ref.astype(np.float64)
    diff = np.max(np.abs(a - r)) if r.size else 0.0
    scale = np.max(np.abs(r)) if r.size else 0.0
    if not np.isfinite(diff):
        return float("inf"), diff, scale
    return (diff / scale if scale > 0 else diff), diff, scale


def check(label, actual, ref, tol):
    if actual.dtype != ref.dtype or actual.shape != ref.shape:
        print("%-44s FAIL  got %s%s, expected %s%s" % (label, actual.dtype, list(actual.shape), ref.dtype,
                                                       list(ref.shape)))
        return False
    rel, diff, scale = relative_error(actual, ref)
    ok = rel <= tol
    print("%-44s %s  max|diff|/max|ref| = %.3e  (max|diff| %.3e, max|ref| %.3e)" % (label, "ok  " if ok else "FAIL",
                                                                                   rel, diff, scale))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--lowbit", required=True)
    ap.add_argument("--ort", required=True)
    ap.add_argument("--torch")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--ref-name", default="onnxruntime")
    args = ap.parse_args()

    ort_files = sorted(f for f in os.listdir(args.ort) if f.endswith(".npy"))
    if not ort_files:
        print("no ONNX Runtime outputs in", args.ort)
        return 1
    ok = True
    for f in ort_files:
        name = f[:-4]
        ref = np.load(os.path.join(args.ort, f))
        path = find_lowbit_output(args.lowbit, name, len(ort_files))
        if path is None:
            print("%-44s FAIL  lowbit wrote no output for '%s' in %s" % (args.label, name, args.lowbit))
            ok = False
            continue
        ok &= check("%s [%s] vs %s" % (args.label, name, args.ref_name), np.load(path), ref, args.tol)
        if args.torch:
            torch_ref = np.load(args.torch)
            ok &= check("%s [%s] vs pytorch" % (args.label, name), np.load(path), torch_ref, args.tol)
            # Not a pass/fail criterion, but shows how far the two references are apart.
            print("%-44s info  onnxruntime vs pytorch: %.3e" % (args.label, relative_error(ref, torch_ref)[0]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
