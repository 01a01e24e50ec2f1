#!/usr/bin/python3
"""Synthetic text images for calibrating and checking the PaddleOCR models: document pages for the
detector, single text lines for the direction classifier. Deterministic from --seed (same Pillow, same
DejaVu fonts: same pixels).

    render_text_pages.py pages --seed S --count N --png-dir DIR [--npy FILE] [--boxes FILE] [--size 640x640]
    render_text_pages.py lines --seed S --count N --png-dir DIR [--npy FILE] [--labels FILE] [--size 48x192]

pages: lines of random words and numbers in DejaVu fonts of 14-40 px, a few ink colours on slightly
  tinted paper, in one or two columns, with some blocks rotated by a few degrees and a little scanner noise.
lines: one line of text filling a 48x192 crop as PaddleOCR's recognizer input would be; about a third are
  rotated by 180 degrees (what the direction classifier detects). --labels writes one 0/180 per line.

--png-dir writes page_000.png ... (or line_000.png ...), the input of `lowbit quantize --calib-images`.
--npy writes the same images as one float32 N x 3 x H x W batch, normalised as PaddleOCR does
((pixel / 255 - mean) / std, RGB, NCHW; pages: ImageNet mean/std, lines: mean 0.5 std 0.5; --mean/--std
override). Images are rendered at --size itself, so no resizing is involved: lowbit's
`--preprocess "size=HxW,..."` sees images that already have that size and copies them exactly, and the
.npy holds the very tensors lowbit builds from the PNGs.
"""
import argparse
import os
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf",
         "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf", "DejaVuSerifCondensed-Bold.ttf"]
INKS = [(0, 0, 0), (20, 20, 20), (40, 40, 60), (10, 30, 110), (120, 20, 20), (70, 70, 70), (0, 80, 40)]
PAPERS = [(255, 255, 255), (250, 248, 240), (244, 244, 244), (240, 245, 252), (252, 250, 232)]
WORDS = ("the of and to in is for on that by with from as at invoice total amount date page number "
         "report model quantize int8 scale zero point calibration layer tensor accuracy detector text "
         "line column table order address street city customer payment due balance item price tax "
         "lowbit onnx runtime engine kernel batch image pixel sample result summary note reference").split()
DEFAULT_NORM = {"pages": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), "lines": ([0.5] * 3, [0.5] * 3)}

_font_cache = {}


def font(name, size):
    key = (name, size)
    if key not in _font_cache:
        _font_cache[key] = ImageFont.truetype(os.path.join(FONT_DIR, name), size)
    return _font_cache[key]


def random_token(rng):
    r = rng.random()
    if r < 0.15:
        return "%d" % rng.randint(0, 99999)
    if r < 0.25:
        return "%.2f" % (rng.random() * 1000)
    if r < 0.30:
        return "%02d/%02d/%04d" % (rng.randint(1, 28), rng.randint(1, 12), rng.randint(1990, 2030))
    w = rng.choice(WORDS)
    return w.capitalize() if rng.random() < 0.2 else (w.upper() if rng.random() < 0.05 else w)


def random_text(rng, max_width, fnt):
    """Words until the line would exceed max_width pixels (at least one word)."""
    words = [random_token(rng)]
    while True:
        cand = words + [random_token(rng)]
        if fnt.getlength(" ".join(cand)) > max_width or rng.random() < 0.06:
            return " ".join(words)
        words = cand


def text_block(rng, width, height, paper, boxes=None):
    """An RGBA block of lines (transparent background) of one font, size and ink. `boxes` (optional) receives
    each line's ink box (x0, y0, x1, y1) in block coordinates."""
    size = rng.randint(14, 40)
    fnt = font(rng.choice(FONTS), size)
    ink = rng.choice(INKS)
    block = Image.new("RGBA", (width, height), paper + (0,))
    draw = ImageDraw.Draw(block)
    y = 0
    spacing = int(size * rng.uniform(1.25, 1.9))
    while y + size * 1.2 <= height:
        indent = rng.randint(0, max(0, width // 6)) if rng.random() < 0.3 else 0
        line_w = (width - indent) * (rng.uniform(0.35, 1.0) if rng.random() < 0.4 else 1.0)
        text = random_text(rng, line_w, fnt)
        draw.text((indent, y), text, font=fnt, fill=ink + (255,))
        if boxes is not None:
            boxes.append(draw.textbbox((indent, y), text, font=fnt))
        y += spacing
        if rng.random() < 0.08:  # paragraph break
            y += spacing
    return block


def render_page(rng, h, w, boxes=None):
    """A page; `boxes` (optional) receives the ink box of every text line that is not in a tilted block (the
    ground truth of the text-box recall check), clipped to the page."""
    paper = rng.choice(PAPERS)
    page = Image.new("RGB", (w, h), paper)
    margin = rng.randint(10, 40)
    y = rng.randint(5, 30)
    while y < h - 40:
        block_h = min(h - y - 5, rng.randint(60, 220))
        if block_h < 40:
            break
        columns = 2 if rng.random() < 0.35 else 1
        gap = rng.randint(20, 50)
        col_w = (w - 2 * margin - gap * (columns - 1)) // columns
        for c in range(columns):
            x = margin + c * (col_w + gap)
            if rng.random() < 0.2:
                # A tilted block (photographed or scanned askew): draw larger, rotate, crop.
                big = text_block(rng, col_w + 40, block_h + 40, paper)
                big = big.rotate(rng.choice((-1, 1)) * rng.uniform(2, 10), resample=Image.BICUBIC, expand=False)
                blk = big.crop((20, 20, 20 + col_w, 20 + block_h))
            else:
                line_boxes = []
                blk = text_block(rng, col_w, block_h, paper, line_boxes)
                if boxes is not None:
                    for (x0, y0, x1, y1) in line_boxes:
                        x0, y0, x1, y1 = max(0, x + x0), max(0, y + y0), min(w, x + min(x1, col_w)), min(h, y + min(y1, block_h))
                        if x1 > x0 and y1 > y0:
                            boxes.append([int(x0), int(y0), int(x1), int(y1)])
            page.paste(blk, (x, y), blk)
        if rng.random() < 0.15:  # a rule between sections
            ImageDraw.Draw(page).line((margin, y + block_h + 4, w - margin, y + block_h + 4),
                                      fill=rng.choice(INKS), width=rng.randint(1, 2))
        y += block_h + rng.randint(10, 40)
    return page


def render_line(rng, h, w):
    """One text line filling an h x w crop; returns (image, rotated_180)."""
    paper = tuple(min(255, max(0, c + rng.randint(-25, 5))) for c in rng.choice(PAPERS))
    size = rng.randint(int(h * 0.55), int(h * 0.8))
    fnt = font(rng.choice(FONTS), size)
    img = Image.new("RGB", (w, h), paper)
    draw = ImageDraw.Draw(img)
    x0 = rng.randint(0, 8)
    text = random_text(rng, w * rng.uniform(0.7, 1.6), fnt)  # may run past the right edge, like a crop
    top, bottom = fnt.getbbox("Ag")[1], fnt.getbbox("Ag")[3]
    y0 = (h - (bottom - top)) // 2 - top + rng.randint(-3, 3)
    draw.text((x0, y0), text, font=fnt, fill=rng.choice(INKS))
    rotated = rng.random() < 0.35
    if rotated:
        img = img.rotate(180)
    return img, rotated


def add_noise(img, seed):
    """Mild sensor noise so that backgrounds are not perfectly flat."""
    a = np.asarray(img, dtype=np.int16)
    noise = np.random.default_rng(seed).integers(-3, 4, a.shape, dtype=np.int16)
    return Image.fromarray(np.clip(a + noise, 0, 255).astype(np.uint8))


def normalize(images, mean, std):
    """uint8 HWC RGB images -> float32 N x 3 x H x W, (pixel / 255 - mean) / std."""
    x = np.stack([np.asarray(im, dtype=np.float32) for im in images]).transpose(0, 3, 1, 2)
    m = np.array(mean, dtype=np.float32).reshape(1, 3, 1, 1)
    s = np.array(std, dtype=np.float32).reshape(1, 3, 1, 1)
    return ((x * np.float32(1.0 / 255) - m) / s).astype(np.float32)


def parse_size(text):
    h, w = text.lower().split("x")
    return int(h), int(w)


def floats(text):
    return [float(v) for v in text.split(",")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["pages", "lines"])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--size", type=parse_size, help="HxW (pages: 640x640, lines: 48x192)")
    ap.add_argument("--png-dir", help="write the images as PNG files here")
    ap.add_argument("--npy", help="write the normalised N x 3 x H x W float32 batch here")
    ap.add_argument("--labels", help="lines: write the rotation (0 or 180) of each line here, one per line")
    ap.add_argument("--boxes", help="pages: write the text-line boxes of each page (JSON, [[x0, y0, x1, y1], ...] "
                    "per page; lines in tilted blocks are left out)")
    ap.add_argument("--mean", type=floats)
    ap.add_argument("--std", type=floats)
    args = ap.parse_args(argv)
    h, w = args.size or ((640, 640) if args.kind == "pages" else (48, 192))
    mean = args.mean or DEFAULT_NORM[args.kind][0]
    std = args.std or DEFAULT_NORM[args.kind][1]

    images, labels, page_boxes = [], [], []
    for i in range(args.count):
        # One generator per image: image i does not depend on how many come before it.
        rng = random.Random("%s/%d/%d" % (args.kind, args.seed, i))
        if args.kind == "pages":
            boxes = []
            img = render_page(rng, h, w, boxes)
            page_boxes.append(boxes)
        else:
            img, rotated = render_line(rng, h, w)
            labels.append(180 if rotated else 0)
        images.append(add_noise(img, args.seed * 100003 + i))

    if args.png_dir:
        os.makedirs(args.png_dir, exist_ok=True)
        for i, img in enumerate(images):
            img.save(os.path.join(args.png_dir, "%s_%03d.png" % (args.kind[:-1], i)))
    if args.npy:
        np.save(args.npy, normalize(images, mean, std))
    if args.boxes:
        import json
        with open(args.boxes, "w") as f:
            json.dump(page_boxes, f)
    if args.labels:
        with open(args.labels, "w") as f:
            f.write("".join("%d\n" % v for v in labels))
    print("rendered %d %s (%dx%d, seed %d)%s%s" % (
        args.count, args.kind, h, w, args.seed, " -> " + args.png_dir if args.png_dir else "",
        " -> " + args.npy if args.npy else ""))


if __name__ == "__main__":
    sys.exit(main())
