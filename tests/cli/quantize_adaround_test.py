#!/usr/bin/python3
"""End-to-end test of `lowbit quantize --adaround` on quantize_test.py's tiny CNN: only the int8 weight values change
(each within 1 of nearest rounding, same scales), the output is deterministic, progress and summary are printed, and
flag combinations without calibration data are usage errors.

Usage: /usr/bin/python3 quantize_adaround_test.py --lowbit BIN --models DIR --source REPO CASE
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test  # noqa: E402
import quantize_test  # noqa: E402
from cli_test import expect_error, expect_ok  # noqa: E402


def case_quantize_adaround():
    d, model, calib = quantize_test.setup("q_adaround", samples=24)
    plain, ada, again = (os.path.join(d, n) for n in ("plain.onnx", "ada.onnx", "again.onnx"))
    expect_ok("quantize", model, "--calib", "x=" + calib, "-o", plain, "-q")
    r = expect_ok("quantize", model, "--calib", "x=" + calib, "-o", ada, "--adaround", "--adaround-iters", "200")
    assert "adaround [1/3] conv1 (Conv, k=27" in r.stderr, "one progress line per layer on stderr: " + r.stderr
    assert "adaround:    3 layers, 200 iterations" in r.stdout, r.stdout
    expect_ok("quantize", model, "--calib", "x=" + calib, "-o", again, "--adaround", "--adaround-iters", "200", "-q")
    with open(ada, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read(), "--adaround must be deterministic"

    _, p = quantize_test.load_inits(plain)
    _, q = quantize_test.load_inits(ada)
    assert sorted(p) == sorted(q), (sorted(p), sorted(q))
    changed = 0
    for name, v in p.items():
        if v.dtype == np.int8 and v.ndim >= 2:  # weights (zero points are int8 scalars)
            w = q[name].astype(int)
            assert np.abs(w - v.astype(int)).max() <= 1, name
            assert w.min() >= -127 and w.max() <= 127, name
            changed += int((w != v).sum())
        else:
            assert np.array_equal(v, q[name]), f"{name}: only int8 weight values may change"
    assert changed > 0, "AdaRound changed no weight"

    x = np.random.RandomState(7).rand(4, 3, 16, 16).astype(np.float32)
    ref = quantize_test.run_model(model, x, d)
    y = quantize_test.run_model(ada, x, d)
    assert np.abs(y - ref).max() < 0.05, np.abs(y - ref).max()


def case_quantize_adaround_errors():
    d, model, calib = quantize_test.setup("q_adaround_errors")
    out = os.path.join(d, "never.onnx")
    expect_error("quantize", model, "--weight-only", "--adaround", "-o", out, code=2, mentions=("--adaround", "--calib"))
    table = os.path.join(d, "t.json")
    expect_ok("quantize", model, "--calib", "x=" + calib, "--table", table, "--table-only", "-q")
    expect_error("quantize", model, "--read-table", table, "--adaround", "-o", out, code=2, mentions=("--adaround",))
    expect_error("quantize", model, "--calib", "x=" + calib, "--adaround", "--table", table, "--table-only", code=2,
                 mentions=("--table-only",))
    expect_error("quantize", model, "--calib", "x=" + calib, "--adaround-iters", "5", "-o", out, code=2,
                 mentions=("--adaround-iters needs --adaround",))
    expect_error("quantize", model, "--calib", "x=" + calib, "--adaround", "--adaround-iters", "0", "-o", out, code=2)
    assert not os.path.exists(out)


if __name__ == "__main__":
    sys.exit(cli_test.main(globals()))
