#!/usr/bin/env python3
"""How far OpenVINO's default bf16 inference moves a model's outputs from onnxruntime's f32 ones, on
the committed reference inputs (tests/data/inputs), to set next to pplcnet's `PPLCNET_PRECISION=bf16`
figures (printed by `cargo test --release -p pplcnet-testmodels --test bf16 -- --nocapture`).

    .venv/bin/python tools/bf16_error.py [tests/data/models/pplcnetv2_base_fused_logits.onnx]

Prints, per input, the max |diff| against the f32 reference in tests/data/reference/<stem>/ and the
largest |reference| value, and whether the top-1 class changed.
"""

import glob
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALE, MEAN, STD = 1.0 / 255.0, np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)


def normalize(u8):
    """PaddleClas NormalizeImage + ToCHWImage in float32 (as tools/export_reference.py)."""
    x = u8.astype(np.float32) * np.float32(SCALE)
    x = (x - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32))


def main():
    import openvino as ov

    model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/data/models/pplcnetv2_base_fused_logits.onnx")
    stem = os.path.splitext(os.path.basename(model))[0]
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model), "CPU", {"INFERENCE_NUM_THREADS": 1})
    precision = compiled.get_property("INFERENCE_PRECISION_HINT")
    print(f"OpenVINO {ov.get_version().split('-')[0]}, default precision hint: {precision}; model {stem}")
    for path in sorted(glob.glob(os.path.join(ROOT, "tests/data/inputs/*.u8"))):
        name = os.path.splitext(os.path.basename(path))[0]
        u8 = np.fromfile(path, np.uint8).reshape(224, 224, 3)
        ref = np.fromfile(os.path.join(ROOT, "tests/data/reference", stem, name + ".f32"), "<f4")
        got = np.asarray(compiled.create_infer_request().infer({0: normalize(u8)})[0]).reshape(-1)
        diff = float(np.abs(got - ref).max())
        scale = float(np.abs(ref).max())
        top = "same top-1" if got.argmax() == ref.argmax() else "TOP-1 CHANGED"
        print(f"{stem} / {name}: max |diff| {diff:.2e} (largest |ref| {scale:.2f}, {100 * diff / scale:.1f}%), {top}")


if __name__ == "__main__":
    main()
