#!/usr/bin/env python3
"""Make the reference data for tests/preprocess.rs with opencv-python.

PaddleClas's deploy pipeline (deploy/python/predict_cls.py + preprocess.py) is:

    img = cv2.imread(path)[:, :, ::-1]                  # IMREAD_COLOR, BGR -> RGB
    percent = float(256) / min(w, h)
    img = cv2.resize(img, (int(round(w * percent)), int(round(h * percent))))  # INTER_LINEAR
    img = img[(h' - 224) // 2 : ..., (w' - 224) // 2 : ..., :]  # center crop

This script writes synthetic inputs (seeded, PNG/JPEG) and what cv2 makes of them into
tests/data/preprocess/, plus `cases.txt`, the manifest the Rust test reads:

    resize   INPUT SHORT EXPECTED          # resize_short_side only (small SHORT keeps files small)
    pipeline INPUT SHORT CROP UPSCALE EXPECTED MAXDIFF  # load_image + preprocess_into
    decode   INPUT EXPECTED MAXDIFF        # decode_image vs cv2.imread (RGB)
    orient   INPUT PLAIN N                 # decode(INPUT) == decode(PLAIN) with EXIF orientation N
    error    INPUT KIND                    # must fail with this PreprocessError kind

EXPECTED files are 8-bit RGB PNGs (lossless). MAXDIFF is 0 where exactness is claimed
(PNG inputs); JPEG cases carry the measured libjpeg-turbo vs `image`-crate tolerance.

Usage (from the repository root):
    python3 -m venv tools/.venv-cv
    tools/.venv-cv/bin/pip install opencv-python-headless numpy
    tools/.venv-cv/bin/python tools/make_preprocess_reference.py
"""

import argparse
import os
import struct
import zlib

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "tests", "data", "preprocess")


# ---------------------------------------------------------------------------------------------
# PaddleClas deploy semantics

def paddle_resize(img, short):
    h, w = img.shape[:2]
    percent = float(short) / min(w, h)
    nw = int(round(w * percent))
    nh = int(round(h * percent))
    return cv2.resize(img, (nw, nh))


def paddle_crop(img, size):
    h, w = img.shape[:2]
    assert w >= size and h >= size, (w, h, size)
    x0 = (w - size) // 2
    y0 = (h - size) // 2
    return img[y0:y0 + size, x0:x0 + size, :]


def imread_rgb(path):
    img = cv2.imread(path)  # IMREAD_COLOR: 3-channel BGR, EXIF orientation applied
    assert img is not None, path
    return np.ascontiguousarray(img[:, :, ::-1])


# ---------------------------------------------------------------------------------------------
# Minimal PNG writer (cv2 cannot write palette or gray+alpha PNGs)

def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path, arr, color_type, bit_depth=8, palette=None, trns=None):
    """arr: HxW (gray/palette) or HxWxC (C=2,3,4) uint8/uint16 in *file* channel order (RGB)."""
    h, w = arr.shape[:2]
    if bit_depth == 16:
        raw = arr.astype(">u2").tobytes()
    else:
        raw = arr.astype(np.uint8).tobytes()
    stride = len(raw) // h
    rows = b"".join(b"\x00" + raw[y * stride:(y + 1) * stride] for y in range(h))
    out = b"\x89PNG\r\n\x1a\n"
    out += _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0))
    if palette is not None:
        out += _chunk(b"PLTE", palette.astype(np.uint8).tobytes())
    if trns is not None:
        out += _chunk(b"tRNS", bytes(trns))
    out += _chunk(b"IDAT", zlib.compress(rows, 9))
    out += _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


def write_rgb_png(path, rgb):
    ok = cv2.imwrite(path, np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok, path


# ---------------------------------------------------------------------------------------------
# Synthetic content

def noise(rng, h, w, c=3):
    return rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)


def structured(rng, h, w):
    """Photo-like but compressible: gradients, hard edges, discs, a small noisy patch."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3), np.float64)
    for c in range(3):
        a, b, p = rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5), rng.uniform(0, 6.3)
        img[:, :, c] = 128 + 60 * np.sin(a * xx / 37.0 + b * yy / 23.0 + p) + 0.1 * (xx - yy)
    for _ in range(12):  # rectangles with hard edges
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(3, max(4, w // 3)), y0 + rng.integers(3, max(4, h // 3))
        img[y0:y1, x0:x1, :] = rng.integers(0, 256, size=3)
    for _ in range(6):  # discs
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(3, max(4, min(w, h) / 4))
        m = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        img[m] = rng.integers(0, 256, size=3)
    ph, pw = max(1, h // 8), max(1, w // 8)  # noise patch exercises every rounding case
    py, px = rng.integers(0, h - ph + 1), rng.integers(0, w - pw + 1)
    img[py:py + ph, px:px + pw, :] = rng.integers(0, 256, size=(ph, pw, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# EXIF orientation for JPEG (APP1 with a single IFD0 entry 0x0112)

def add_exif_orientation(jpeg_bytes, orientation):
    assert jpeg_bytes[:2] == b"\xff\xd8"
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg_bytes[:2] + app1 + jpeg_bytes[2:]


def bomb_png(path, w, h):
    """Valid header claiming w x h RGB, with a tiny IDAT: decoders must refuse, not allocate."""
    rows = zlib.compress(b"\x00" * 65536, 9)
    out = b"\x89PNG\r\n\x1a\n"
    out += _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    out += _chunk(b"IDAT", rows)
    out += _chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(out)


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=20240607)
    ap.add_argument("--random", type=int, default=0, metavar="N",
                    help="also add N resize cases of random sizes (for a local stress run; keep 0 for the "
                         "committed set): PPLCNET_PREPROCESS_REF=DIR cargo test --test preprocess")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    rng = np.random.default_rng(args.seed)
    manifest = [
        "# Generated by tools/make_preprocess_reference.py with opencv-python %s, numpy %s. Do not edit."
        % (cv2.__version__, np.__version__)
    ]

    def p(name):
        return os.path.join(out, name)

    # 1) resize_short_side only, on pure noise (every rounding path), small targets.
    resize_cases = [
        # (name, h, w, short)
        ("noise_173x131_s64", 131, 173, 64),      # landscape, odd, downscale ~2.05
        ("noise_61x97_s64", 97, 61, 64),          # portrait, slight upscale on w, (h 102)
        ("noise_128x96_s48", 96, 128, 48),        # exact 2x downscale (OpenCV INTER_AREA fast path)
        ("noise_120x90_s30", 90, 120, 30),        # exact 3x downscale
        ("noise_37x23_s64", 23, 37, 64),          # strong upscale, borders
        ("noise_200x7_s20", 7, 200, 20),          # extreme aspect, upscale short side
        ("noise_129x128_s64", 128, 129, 64),      # 129*0.5 = 64.5 -> 64 (Python round half even)
        ("noise_101x100_s50", 100, 101, 50),      # 101*0.5 = 50.5 -> 50 (Python round half even)
        ("noise_103x100_s50", 100, 103, 50),      # 51.5 -> 52
        ("noise_1x50_s16", 50, 1, 16),            # width 1
        ("noise_64x64_s64", 64, 64, 64),          # identity (cv2 copies)
        ("noise_64x80_s64", 80, 64, 64),          # identity on one axis only
        ("noise_150x113_s128", 113, 150, 128),    # upscale, long side 170
        ("noise_331x89_s57", 89, 331, 57),        # arbitrary non-integer downscale
    ]
    for name, h, w, short in resize_cases:
        img = noise(rng, h, w)
        write_rgb_png(p(name + ".png"), img)
        got = imread_rgb(p(name + ".png"))
        assert np.array_equal(got, img)
        exp = paddle_resize(got, short)
        if exp.shape == img.shape and np.array_equal(exp, img):  # identity: no second copy
            manifest.append("resize %s.png %d %s.png" % (name, short, name))
            continue
        write_rgb_png(p(name + ".expected.png"), exp)
        manifest.append("resize %s.png %d %s.expected.png" % (name, short, name))

    for i in range(args.random):
        h, w = (int(v) for v in rng.integers(1, 400, size=2))
        short = int(rng.integers(1, 300))
        name = "random%04d_%dx%d_s%d" % (i, w, h, short)
        img = noise(rng, h, w)
        write_rgb_png(p(name + ".png"), img)
        write_rgb_png(p(name + ".expected.png"), paddle_resize(imread_rgb(p(name + ".png")), short))
        manifest.append("resize %s.png %d %s.expected.png" % (name, short, name))

    # 2) the whole pipeline (256 / 224) on structured images of realistic sizes.
    pipeline_cases = [
        # (name, h, w, upscale)
        ("photo_1024x683", 683, 1024, 0),   # large landscape, scale 0.3748
        ("photo_683x1024", 1024, 683, 0),   # large portrait
        ("photo_500x375", 375, 500, 0),     # ImageNet-like
        ("photo_512x768", 768, 512, 0),     # exact 2x downscale -> 256x384
        ("photo_256x256", 256, 256, 0),     # already 256: cv2 copies
        ("photo_300x256", 256, 300, 0),     # short side already 256
        ("photo_230x240", 240, 230, 0),     # tiny: upscale to 256 (short side >= crop)
        ("photo_224x224", 224, 224, 0),     # exactly the crop: upscale to 256
        ("photo_257x1000", 1000, 257, 0),   # tall
        ("photo_1001x333", 333, 1001, 0),   # wide, odd
        ("photo_200x300", 300, 200, 1),     # smaller than the crop: allowed only with upscale
        ("photo_97x61", 61, 97, 1),         # much smaller than the crop
    ]
    for name, h, w, up in pipeline_cases:
        img = structured(rng, h, w)
        write_rgb_png(p(name + ".png"), img)
        exp = paddle_crop(paddle_resize(imread_rgb(p(name + ".png")), 256), 224)
        write_rgb_png(p(name + ".expected.png"), exp)
        manifest.append("pipeline %s.png 256 224 %d %s.expected.png 0" % (name, up, name))
    # smaller than the crop without permission -> error
    manifest.append("error photo_200x300.png toosmall")

    # 3) decoding: PNG colour types / depths, as cv2.imread(IMREAD_COLOR) sees them.
    h, w = 47, 61
    base = noise(rng, h, w)
    gray = base[:, :, 0]
    alpha = noise(rng, h, w, 1)[:, :, 0]
    write_png(p("gray8.png"), gray, 0)
    write_png(p("gray_alpha8.png"), np.dstack([gray, alpha]), 4)
    write_png(p("rgba8.png"), np.dstack([base, alpha]), 6)
    g16 = rng.integers(0, 65536, size=(h, w), dtype=np.uint16)
    g16[0, :4] = [0x00FF, 0x10FF, 0xFF80, 0x7FFF]  # >>8 vs /257 rounding differ here
    write_png(p("gray16.png"), g16, 0, 16)
    rgb16 = rng.integers(0, 65536, size=(h, w, 3), dtype=np.uint16)
    rgb16[0, 0] = [0x00FF, 0x10FF, 0x80FF]
    write_png(p("rgb16.png"), rgb16, 2, 16)
    rgba16 = rng.integers(0, 65536, size=(h, w, 4), dtype=np.uint16)
    write_png(p("rgba16.png"), rgba16, 6, 16)
    pal = rng.integers(0, 256, size=(16, 3))
    idx = rng.integers(0, 16, size=(h, w), dtype=np.uint8)
    write_png(p("palette_trns.png"), idx, 3, 8, palette=pal, trns=[0, 128, 255, 7])
    bits = rng.integers(0, 2, size=(h, w), dtype=np.uint8)
    packed = np.packbits(bits, axis=1)  # 1-bit gray
    raw = b"".join(b"\x00" + packed[y].tobytes() for y in range(h))
    with open(p("gray1.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))
    for name in ["gray8", "gray_alpha8", "rgba8", "gray16", "rgb16", "rgba16", "palette_trns", "gray1"]:
        got = imread_rgb(p(name + ".png"))
        write_rgb_png(p(name + ".expected.png"), got)
        manifest.append("decode %s.png %s.expected.png 0" % (name, name))
    # the 16-bit / gray+alpha / RGBA cases through the whole pipeline too (upscaled)
    for name in ["rgb16"]:
        exp = paddle_crop(paddle_resize(imread_rgb(p(name + ".png")), 256), 224)
        write_rgb_png(p(name + ".pipeline.png"), exp)
        manifest.append("pipeline %s.png 256 224 1 %s.pipeline.png 0" % (name, name))

    # 4) JPEG: libjpeg-turbo (cv2) vs the image crate decoder, and EXIF orientation.
    jimg = structured(rng, 240, 320)
    ok, enc = cv2.imencode(".jpg", np.ascontiguousarray(jimg[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    jpeg = enc.tobytes()
    with open(p("photo_320x240.jpg"), "wb") as f:
        f.write(jpeg)
    jpeg_names = ["photo_320x240"]
    if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):  # opencv >= 4.7
        ok, enc444 = cv2.imencode(".jpg", np.ascontiguousarray(jimg[:, :, ::-1]),
                                  [cv2.IMWRITE_JPEG_QUALITY, 95, cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                   cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
        assert ok
        with open(p("photo_320x240_444.jpg"), "wb") as f:
            f.write(enc444.tobytes())
        jpeg_names.append("photo_320x240_444")
    for orient in (3, 6, 8):
        with open(p("exif_orient%d.jpg" % orient), "wb") as f:
            f.write(add_exif_orientation(jpeg, orient))
    ok, encg = cv2.imencode(".jpg", np.ascontiguousarray(jimg[:, :, 1]), [cv2.IMWRITE_JPEG_QUALITY, 90])
    with open(p("gray_320x240.jpg"), "wb") as f:
        f.write(encg.tobytes())
    for name in jpeg_names + ["exif_orient3", "exif_orient6", "exif_orient8", "gray_320x240"]:
        got = imread_rgb(p(name + ".jpg"))
        if name.startswith("exif_orient"):
            # cv2 applied the orientation: check it against the plain decode, store no copy
            plain = imread_rgb(p("photo_320x240.jpg"))
            rot = {3: cv2.ROTATE_180, 6: cv2.ROTATE_90_CLOCKWISE, 8: cv2.ROTATE_90_COUNTERCLOCKWISE}
            assert np.array_equal(got, cv2.rotate(plain, rot[int(name[-1])])), name
            manifest.append("orient %s.jpg photo_320x240.jpg %s" % (name, name[-1]))
        else:
            write_rgb_png(p(name + ".expected.png"), got)
            manifest.append("decode %s.jpg %s.expected.png JPEGTOL" % (name, name))
        exp = paddle_crop(paddle_resize(got, 256), 224)
        write_rgb_png(p(name + ".pipeline.png"), exp)
        manifest.append("pipeline %s.jpg 256 224 0 %s.pipeline.png JPEGTOL" % (name, name))

    # 5) inputs that must fail cleanly.
    open(p("empty.jpg"), "wb").close()
    manifest.append("error empty.jpg empty")
    with open(p("truncated.jpg"), "wb") as f:
        f.write(jpeg[:300])  # inside the entropy-coded data's headers
    manifest.append("error truncated.jpg decode")
    with open(p("garbage.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, size=200, dtype=np.uint8)))
    manifest.append("error garbage.png decode")
    with open(p("not_an_image.jpg"), "wb") as f:
        f.write(b"this is a text file, not a JPEG\n")
    manifest.append("error not_an_image.jpg decode")
    bomb_png(p("bomb_60000x60000.png"), 60000, 60000)
    manifest.append("error bomb_60000x60000.png toolarge")
    bomb_png(p("bomb_100000x1.png"), 100000, 1)  # fine size-wise, but the data is short
    manifest.append("error bomb_100000x1.png decode")

    with open(p("cases.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    total = sum(os.path.getsize(p(f)) for f in os.listdir(out))
    print("wrote %d files, %.1f KiB, to %s" % (len(os.listdir(out)), total / 1024, out))


if __name__ == "__main__":
    main()
