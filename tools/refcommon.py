"""What the reference scripts share and that needs neither Paddle nor PyTorch: the project root,
PaddleClas's input normalization, onnxruntime's reference session settings and small helpers.
Imported by export_reference.py and export_family.py (Paddle venv) and export_torch.py (torch venv)."""

import collections
import hashlib
import json
import os

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
SCALE = np.float32(0.00392157)


def log(*a):
    print(*a, flush=True)


def normalize(u8):
    """PaddleClas deploy NormalizeImage + ToCHWImage in float32, batch of 1."""
    x = u8.astype(np.float32) * SCALE
    x = (x - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32))


def ort_session(path):
    """The reference runtime: onnxruntime CPU, no graph optimizations, one thread."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def maxdiff(a, b):
    return float(max(np.abs(x - y).max() for x, y in zip(a, b)))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_manifest(path, keep):
    """The manifest at `path` (entries in file order) when `keep` (only some models are being
    exported, the others' entries stay) and it exists; otherwise a new, empty one."""
    if keep and os.path.exists(path):
        with open(path) as f:
            return json.load(f, object_pairs_hook=collections.OrderedDict)
    return collections.OrderedDict()
