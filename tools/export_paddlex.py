#!/usr/bin/env python3
"""Export the PaddleX / PaddleOCR task models (document and text-line orientation, table
classification, pedestrian and vehicle attributes, PP-OCR's MobileNetV3 text direction classifier)
with seeded weights, as PaddleX ships them, with reference outputs.

Run from anywhere:   .venv/bin/python tools/export_paddlex.py [name ...]
Full-size x1_0 models (not committed, target/paddlex_full/):
                     .venv/bin/python tools/export_paddlex.py --full [name ...]
  then, per model:   PPLCNET_MODEL=target/paddlex_full/<name> cargo build --release
                     .venv/bin/python tools/export_paddlex.py --full <name> --check target/release/pplcnet

Per model (tests/data/paddlex/<name>/), what a PaddleX model directory holds after
`paddlex --paddle2onnx`:
  inference.json + inference.pdiparams   Paddle 3 PIR export (paddle.jit.save, as PaddleX 3)
  inference.yml                          PaddleX format: Global.model_name, PreProcess.transform_ops,
                                         PostProcess (Topk / MultiLabelThreshOutput with label_list)
  inference.onnx                         paddle2onnx (opset 11, polygraphy folding, as the CLI)
and references:
  tests/data/inputs/<H>x<W>/<input>.u8                 the five reference patterns at the model's size
  tests/data/reference/paddlex_<name>/<input>.f32      Paddle Inference (CPU, IR optim and MKLDNN off)
  tests/data/reference/paddlex_<name>_onnx/<input>.f32 onnxruntime (ORT_DISABLE_ALL, 1 thread)
  tests/data/reference/paddlex_<name>_images/<image>.f32  Paddle Inference on three PNGs of
                                                       tests/data/preprocess/ prepared with OpenCV
                                                       the way the model's inference.yml says
  tests/data/reference/paddlex_manifest.json           per model: architecture, seed, sizes, sha256,
                                                       spreads between the runtimes

The architectures come from the paddleclas wheel (tools/ppcls_arch.py): PPLCNet (with its
`stride_list`, as PaddleX's textline config) and, for PP-OCR's classifier, PaddleClas's MobileNetV3
blocks (ConvBNLayer, ResidualUnit with SE) arranged as PaddleOCR's `rec_mobilenet_v3.MobileNetV3`
small (scale 0.35, strides (2, 1), 1x1 conv, 2x2 max pool) + `ClsHead` (average pool, fc, softmax):
PaddleOCR's modeling code is not in its PyPI wheels. The x1_0 task models are exported at scale
0.25 with a 256-wide head (same graph structure, small files). Deterministic: a second run writes
byte-identical files.
"""

import collections
import json
import logging
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_reference as ER  # noqa: E402  (sets threads, imports paddle/onnx/ort)
from ppcls_arch import ExportModel, load_legendary  # noqa: E402
from refcommon import load_manifest  # noqa: E402

import onnx  # noqa: E402
import paddle  # noqa: E402
import paddle.nn as nn  # noqa: E402

V1, _ = load_legendary("pp_lcnet")
MV3, _ = load_legendary("mobilenet_v3")
sys.modules["ppcls.utils.logger"].init_logger(log_level=logging.ERROR)

SEED = ER.WEIGHT_SEED + 300
IMAGENET = dict(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
HALF = dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])

PEDESTRIAN_LABELS = [
    "Hat", "Glasses", "ShortSleeve", "LongSleeve", "UpperStride", "UpperLogo", "UpperPlaid",
    "UpperSplice", "LowerStripe", "LowerPattern", "LongCoat", "Trousers", "Shorts", "Skirt&Dress",
    "boots", "HandBag", "ShoulderBag", "Backpack", "HoldObjectsInFront", "AgeOver60", "Age18-60",
    "AgeLess18", "Female", "Front", "Side", "Back"]
VEHICLE_LABELS = [
    "yellow", "orange", "green", "gray", "red", "blue", "white", "golden", "brown", "black",
    "sedan", "suv", "van", "hatchback", "mpv", "pickup", "bus", "truck", "estate"]


class PPOCRClsMobileNetV3(nn.Layer):
    """PP-OCR's text direction classifier (PaddleOCR `configs/cls/cls_mv3.yml`: MobileNetV3 small,
    scale 0.35, model_type cls, ClsHead class_dim 2), built from PaddleClas's MobileNetV3 blocks.
    Backbone: 3x3/2 conv + hard-swish, eleven inverted residual blocks whose down-sampling strides
    are (2, 1) (height only), a 1x1 conv + hard-swish, MaxPool2D(2, 2); head: global average pool,
    fc, softmax (ClsHead applies it in eval mode)."""

    CFG = [  # kernel, expansion, channels, SE, activation, stride
        [3, 16, 16, True, "relu", (2, 1)],
        [3, 72, 24, False, "relu", (2, 1)],
        [3, 88, 24, False, "relu", 1],
        [5, 96, 40, True, "hardswish", (2, 1)],
        [5, 240, 40, True, "hardswish", 1],
        [5, 240, 40, True, "hardswish", 1],
        [5, 120, 48, True, "hardswish", 1],
        [5, 144, 48, True, "hardswish", 1],
        [5, 288, 96, True, "hardswish", (2, 1)],
        [5, 576, 96, True, "hardswish", 1],
        [5, 576, 96, True, "hardswish", 1],
    ]

    def __init__(self, scale=0.35, class_num=2):
        super().__init__()
        div = MV3._make_divisible
        inplanes = div(16 * scale)
        self.conv1 = MV3.ConvBNLayer(3, inplanes, 3, 2, 1, if_act=True, act="hardswish")
        blocks = []
        for k, exp, c, se, act, s in self.CFG:
            blocks.append(MV3.ResidualUnit(inplanes, div(scale * exp), div(scale * c), k, s,
                                           se, act))
            inplanes = div(scale * c)
        self.blocks = nn.Sequential(*blocks)
        out = div(scale * 576)
        self.conv2 = MV3.ConvBNLayer(inplanes, out, 1, 1, 0, if_act=True, act="hardswish")
        self.pool = nn.MaxPool2D(kernel_size=2, stride=2, padding=0)
        self.head_pool = nn.AdaptiveAvgPool2D(1)
        self.fc = nn.Linear(out, class_num)

    def forward(self, x):
        x = self.pool(self.conv2(self.blocks(self.conv1(x))))
        x = paddle.reshape(self.head_pool(x), shape=[x.shape[0], x.shape[1]])
        x = self.fc(x)
        if not self.training:
            x = nn.functional.softmax(x, axis=1)
        return x


class SigmoidExport(nn.Layer):
    """PaddleClas's ExportModel for `Global.use_multilabel: True`: the network, then a sigmoid."""

    def __init__(self, base_model):
        super().__init__()
        self.base_model = base_model
        self.out_act = nn.Sigmoid()

    def forward(self, x):
        return self.out_act(self.base_model(x))


def clas_pre(hw, resize):
    """PaddleClas-style PreProcess.transform_ops of a PaddleX inference.yml."""
    ops = [("ResizeImage", resize)]
    if "resize_short" in resize:
        ops.append(("CropImage", {"size": hw[1]}))
    ops.append(("NormalizeImage", dict(channel_num=3, mean=IMAGENET["mean"], order="hwc",
                                       scale=1.0 / 255.0, std=IMAGENET["std"])))
    ops.append(("ToCHWImage", None))
    return ops


def task(name, model_name, build, kwargs, hw, head, pre, post, norm=IMAGENET, note=""):
    return dict(name=name, model_name=model_name, build=build, kwargs=kwargs, hw=hw, head=head,
                pre=pre, post=post, norm=norm, note=note)


V1_SMALL = dict(class_expand=256)
TASKS = [
    task("pplcnet_doc_ori", "PP-LCNet_x1_0_doc_ori", V1.PPLCNet_x0_25,
         dict(class_num=4, **V1_SMALL), (224, 224), "softmax",
         clas_pre((224, 224), {"resize_short": 256}),
         ("Topk", dict(topk=1, label_list=["0", "90", "180", "270"])),
         note="PPLCNet_x1_0 at scale 0.25 (256-wide head), 4 classes"),
    task("pplcnet_textline_ori", "PP-LCNet_x0_25_textline_ori", V1.PPLCNet_x0_25,
         dict(class_num=2, stride_list=[2, [2, 1], [2, 1], [2, 1], [2, 1]]), (80, 160), "softmax",
         clas_pre((80, 160), {"size": [160, 80]}),
         ("Topk", dict(topk=1, label_list=["0_degree", "180_degree"])),
         note="PPLCNet_x0_25 as PaddleX's config: stride_list [2,[2,1],[2,1],[2,1],[2,1]], "
              "1280-wide head"),
    task("pplcnet_table_cls", "PP-LCNet_x1_0_table_cls", V1.PPLCNet_x0_25,
         dict(class_num=2, **V1_SMALL), (224, 224), "softmax",
         clas_pre((224, 224), {"resize_short": 256}),
         ("Topk", dict(topk=1, label_list=["wired_table", "wireless_table"])),
         note="PPLCNet_x1_0 at scale 0.25 (256-wide head), 2 classes"),
    task("pplcnet_pedestrian_attribute", "PP-LCNet_x1_0_pedestrian_attribute", V1.PPLCNet_x0_25,
         dict(class_num=26, **V1_SMALL), (256, 192), "sigmoid",
         clas_pre((256, 192), {"size": [192, 256]}),
         ("MultiLabelThreshOutput", dict(threshold=0.5, label_list=PEDESTRIAN_LABELS)),
         note="PPLCNet_x1_0 at scale 0.25 (256-wide head), 26 sigmoid outputs, 256x192"),
    task("pplcnet_vehicle_attribute", "PP-LCNet_x1_0_vehicle_attribute", V1.PPLCNet_x0_25,
         dict(class_num=19, **V1_SMALL), (192, 256), "sigmoid",
         clas_pre((192, 256), {"size": [256, 192]}),
         ("MultiLabelThreshOutput", dict(threshold=0.5, label_list=VEHICLE_LABELS)),
         note="PPLCNet_x1_0 at scale 0.25 (256-wide head), 19 sigmoid outputs, 192x256"),
    task("ppocr_mobilenetv3_cls", "ch_ppocr_mobile_v2.0_cls", PPOCRClsMobileNetV3,
         dict(scale=0.35, class_num=2), (48, 192), "in_graph",
         [("DecodeImage", dict(channel_first=False, img_mode="BGR")),
          ("ClsResizeImg", dict(image_shape=[3, 48, 192])),
          ("KeepKeys", dict(keep_keys=["image"]))],
         ("ClsPostProcess", dict(label_list=["0", "180"])), norm=HALF,
         note="PaddleOCR cls_mv3: MobileNetV3 small x0.35, strides (2,1), max pool, ClsHead"),
]


# ----------------------------------------------------------------------------------------
# inference.yml (PaddleX's layout, written without a YAML library: block style, 2-space indent)
# ----------------------------------------------------------------------------------------
def yscalar(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    s = str(v)
    plain = s and all(c.isalnum() or c in "_-." for c in s) and not s[0].isdigit()
    return s if plain else "'" + s.replace("'", "''") + "'"


def yblock(obj, indent):
    pad = " " * indent
    lines = []
    for k, v in obj.items():
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:")
            lines += yblock(v, indent + 2)
        elif isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
            lines.append(f"{pad}{k}: [{', '.join(repr(x) for x in v)}]")
        elif isinstance(v, list):
            lines.append(f"{pad}{k}:")
            for x in v:
                if isinstance(x, dict):
                    (op, args), = x.items()
                    if args is None:
                        lines.append(f"{pad}- {op}: null")
                    else:
                        lines.append(f"{pad}- {op}:")
                        lines += yblock(args, indent + 4)
                elif isinstance(x, list):
                    lines.append(f"{pad}- [{', '.join(yscalar(y) for y in x)}]")
                else:
                    lines.append(f"{pad}- {yscalar(x)}")
        else:
            lines.append(f"{pad}{k}: {yscalar(v)}")
    return lines


def inference_yml(t):
    h, w = t["hw"]
    doc = collections.OrderedDict()
    doc["Global"] = {"model_name": t["model_name"]}
    doc["Hpi"] = {"backend_configs": {"paddle_infer": {"trt_dynamic_shapes": {
        "x": [[1, 3, h, w], [1, 3, h, w], [8, 3, h, w]]}}}}
    doc["PreProcess"] = {"transform_ops": [{op: args} for op, args in t["pre"]]}
    name, args = t["post"]
    if name == "ClsPostProcess":  # PaddleOCR's layout: PostProcess.name
        doc["PostProcess"] = dict(name=name, **args)
    else:
        doc["PostProcess"] = {name: args}
    return "\n".join(yblock(doc, 0)) + "\n"


# ----------------------------------------------------------------------------------------
# Inputs, normalisation, export
# ----------------------------------------------------------------------------------------
def normalize(u8, norm):
    """NormalizeImage (scale 1/255, mean, std; PaddleOCR's ClsResizeImg: /255, -0.5, /0.5) and
    ToCHWImage in float32, batch of 1."""
    x = u8.astype(np.float32) * np.float32(1.0 / 255.0)
    x = (x - np.array(norm["mean"], np.float32)) / np.array(norm["std"], np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32))


def inputs_at(h, w):
    ins = ER.make_inputs(h, w)
    if (h, w) != (ER.H, ER.W):
        d = os.path.join(ER.ROOT, f"tests/data/inputs/{h}x{w}")
        os.makedirs(d, exist_ok=True)
        for name, u8 in ins.items():
            u8.tofile(os.path.join(d, f"{name}.u8"))
    return ins


def calibration(ins, h, w):
    """The reference inputs plus three blocky seeded images of the model's size."""
    rng = np.random.default_rng(ER.CALIB_SEED)
    extra = []
    for _ in range(3):
        blocks = rng.uniform(0, 255, size=(-(-h // 32), -(-w // 32), 3))
        extra.append(np.kron(blocks, np.ones((32, 32, 1)))[:h, :w].astype(np.uint8))
    return list(ins.values()) + extra


# Test images (PNG, tests/data/preprocess/, from tools/make_pipeline_reference.py) run through each
# model's own preprocessing, as `pplcnet predict` does: wide, tall and near-square.
IMAGES = ["pipe_struct_300x70.png", "pipe_struct_50x120.png", "pipe_noise_97x61.png"]


def prepare(t, path):
    """The model's preprocessing of an image file with OpenCV (INTER_LINEAR), to u8 HWC in the
    model's channel order, as `pplcnet::preprocess::Pipeline` defines it; and, for PaddleOCR's
    ClsResizeImg, also PaddleOCR's own float input (padded with 0 after normalising)."""
    import cv2
    import math
    img = cv2.imread(os.path.join(ER.ROOT, "tests/data/preprocess", path))  # BGR
    bgr = any(op == "DecodeImage" and (a or {}).get("img_mode") == "BGR" for op, a in t["pre"])
    if not bgr:
        img = np.ascontiguousarray(img[:, :, ::-1])
    h, w = t["hw"]
    ops = dict(t["pre"])
    ih, iw = img.shape[:2]
    exact_float = None
    if "ClsResizeImg" in ops:
        rw = w if math.ceil(h * iw / float(ih)) > w else int(math.ceil(h * iw / float(ih)))
        resized = cv2.resize(img, (rw, h), interpolation=cv2.INTER_LINEAR)
        scale = np.float32(1.0 / 255.0)
        pad = [int(np.round(np.float32(m) / scale)) for m in t["norm"]["mean"]]
        out = np.empty((h, w, 3), np.uint8)
        out[:, :] = np.array(pad, np.uint8)
        out[:, :rw] = resized
        # PaddleOCR: resize, /255, -0.5, /0.5, then zeros to the right (CHW)
        f = (resized.astype(np.float32) / 255 - 0.5) / 0.5
        exact_float = np.zeros((1, 3, h, w), np.float32)
        exact_float[0, :, :, :rw] = f.transpose(2, 0, 1)
    elif "resize_short" in ops["ResizeImage"]:
        short = ops["ResizeImage"]["resize_short"]
        percent = float(short) / min(iw, ih)
        rw, rh = int(round(iw * percent)), int(round(ih * percent))
        r = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
        y0, x0 = (rh - h) // 2, (rw - w) // 2
        out = r[y0:y0 + h, x0:x0 + w]
    else:
        out = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out), exact_float


def image_references(t, dst, e):
    """Paddle Inference on the test images prepared by OpenCV: references of the whole
    image-file path (`tests/data/reference/paddlex_<name>_images/<image>.f32`)."""
    name = t["name"]
    outs, floats, exact = [], [], []
    for img in IMAGES:
        u8, exact_float = prepare(t, img)
        floats.append(normalize(u8, t["norm"]))
        exact.append(exact_float)
    outs = ER.run_paddle_inference(dst, floats, mkldnn=False, ir_optim=False)
    for img, out in zip(IMAGES, outs):
        ER.write_f32(os.path.join(ER.ROOT, f"tests/data/reference/paddlex_{name}_images/"
                                           f"{img[:-4]}.f32"), out)
    e["image_references"] = dict(
        dir=f"tests/data/reference/paddlex_{name}_images", images=IMAGES,
        preprocessing="opencv-python " + __import__("cv2").__version__ + " INTER_LINEAR",
        argmax=[int(np.argmax(o)) for o in outs])
    if exact[0] is not None:
        ref = ER.run_paddle_inference(dst, exact, mkldnn=False, ir_optim=False)
        e["image_references"]["u8_pad_vs_paddleocr_float_pad"] = ER.maxdiff(outs, ref)


def export_one(t, models):
    name, (h, w) = t["name"], t["hw"]
    ER.log(f"\n=== {name}: {t['build'].__name__}({t['kwargs']}) {h}x{w} {t['head']}")
    ins = inputs_at(h, w)
    xs = [normalize(u8, t["norm"]) for u8 in ins.values()]
    calib_x = np.concatenate([normalize(u8, t["norm"]) for u8 in calibration(ins, h, w)])
    seed = SEED + TASKS.index(t)
    with paddle.utils.unique_name.guard():
        state = ER.seeded_state(t["kwargs"], seed, calib_x, t["build"])[0]
    net = t["build"](**t["kwargs"])
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    if t["head"] == "sigmoid":
        model = SigmoidExport(net)
    else:
        model = ExportModel(net, add_softmax=t["head"] == "softmax")
    model.eval()
    dy = ER.run_dygraph(model, xs)
    rel = f"tests/data/paddlex/{name}"
    dst = os.path.join(ER.ROOT, rel)
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    with tempfile.TemporaryDirectory(prefix="pplcnet_paddlex_") as tmp:
        ER.paddle_export(model, tmp, hw=(h, w))
        for f in ("inference.json", "inference.pdiparams"):
            shutil.copyfile(os.path.join(tmp, f), os.path.join(dst, f))
    with open(os.path.join(dst, "inference.yml"), "w") as f:
        f.write(inference_yml(t))
    onnx_path = os.path.join(dst, "inference.onnx")
    omodel, opsets = ER.to_onnx(dst, onnx_path)
    pi = ER.run_paddle_inference(dst, xs, mkldnn=False, ir_optim=False)
    pi_opt = ER.run_paddle_inference(dst, xs, mkldnn=False)
    ox = ER.run_ort(onnx_path, xs)
    ox_opt = ER.run_ort(onnx_path, xs, optimized=True)
    for stem, outs in ((f"paddlex_{name}", pi), (f"paddlex_{name}_onnx", ox)):
        for inp, out in zip(ins, outs):
            ER.write_f32(os.path.join(ER.ROOT, f"tests/data/reference/{stem}/{inp}.f32"), out)
    outs = np.stack(pi)
    spread = float((outs.max(0) - outs.min(0)).max())
    if spread < 1e-3:
        raise SystemExit(f"{name}: outputs hardly depend on the input (spread {spread})")
    e = collections.OrderedDict()
    e["dir"] = rel
    e["model_name"] = t["model_name"]
    e["constructor"] = t["build"].__name__
    e["kwargs"] = t["kwargs"]
    e["weight_seed"] = seed
    e["note"] = t["note"]
    e["input_size"] = [h, w]
    e["inputs"] = f"tests/data/inputs/{h}x{w}" if (h, w) != (224, 224) else "tests/data/inputs"
    e["normalize"] = dict(scale="1/255", **t["norm"])
    e["output"] = {"softmax": "probabilities", "in_graph": "probabilities",
                   "sigmoid": "multi-label (sigmoid)"}[t["head"]]
    e["files"] = ER.file_info(rel, ["inference.json", "inference.pdiparams", "inference.yml",
                                    "inference.onnx"])
    e["written_by"] = (f"paddlepaddle {paddle.__version__} paddle.jit.save (PIR JSON); "
                       f"paddle2onnx {ER.paddle2onnx.__version__} opset {ER.OPSET}")
    e["references"] = {f"paddlex_{name}": ER.PI_REFERENCE.format(paddle.__version__),
                       f"paddlex_{name}_onnx": "onnxruntime CPU, ORT_DISABLE_ALL, 1 thread"}
    e["spreads"] = collections.OrderedDict([
        ("paddle_inference_vs_onnxruntime", ER.maxdiff(pi, ox)),
        ("paddle_inference_vs_dygraph", ER.maxdiff(pi, dy)),
        ("paddle_inference_vs_ir_optim_on", ER.maxdiff(pi, pi_opt)),
        ("onnxruntime_vs_all_optimizations", ER.maxdiff(ox, ox_opt)),
        ("output_spread_across_inputs", spread),
    ])
    e["argmax"] = outs.argmax(1).tolist()
    image_references(t, dst, e)
    e["graph"] = ER.graph_stats(omodel)
    models[name] = e
    ER.log(f"ops {e['graph']['op_counts']}")
    ER.log("spreads: " + ", ".join(f"{k} {v:.2e}" for k, v in e["spreads"].items())
           + f"; argmax {e['argmax']}")
    if e["spreads"]["paddle_inference_vs_onnxruntime"] > 1e-5:
        raise SystemExit(f"{name}: Paddle Inference and onnxruntime disagree")


FULL_DIR = os.path.join(ER.ROOT, "target", "paddlex_full")


def full_size(t):
    """The task at PaddleX's real width (PPLCNet_x1_0, 1280-wide head) where it was reduced."""
    if t["build"] is not V1.PPLCNet_x0_25 or "class_expand" not in t["kwargs"]:
        return None
    kwargs = {k: v for k, v in t["kwargs"].items() if k != "class_expand"}
    return dict(t, build=V1.PPLCNet_x1_0, kwargs=kwargs, note="full size (not committed)")


def export_full(names, check_bin):
    """`--full`: the x1_0 task models at full size into target/paddlex_full/<name>/ (not
    committed): the PaddleX directory, the reference inputs as .rgb files and Paddle Inference's
    outputs. With `--check BIN` (a `pplcnet` binary built with PPLCNET_MODEL=that directory), runs
    `BIN predict --json --logits` on the inputs and prints max |diff| against Paddle Inference."""
    import subprocess
    for t in TASKS:
        f = full_size(t)
        if f is None or (names and t["name"] not in names):
            continue
        name, (h, w) = t["name"], t["hw"]
        dst = os.path.join(FULL_DIR, name)
        if check_bin:
            worst = 0.0
            for inp in ER.make_inputs(h, w):
                ref = np.fromfile(os.path.join(dst, "paddle_inference", f"{inp}.f32"), np.float32)
                out = subprocess.run([check_bin, "predict", "--json", "--logits",
                                      os.path.join(dst, "inputs", f"{inp}.rgb")],
                                     check=True, capture_output=True, text=True).stdout
                got = np.array(json.loads(out)["logits"], np.float32)
                worst = max(worst, float(np.abs(got - ref).max()))
            ER.log(f"{name} (full size): pplcnet vs Paddle Inference max |diff| {worst:.2e}")
            continue
        ins = ER.make_inputs(h, w)
        xs = [normalize(u8, t["norm"]) for u8 in ins.values()]
        calib_x = np.concatenate([normalize(u8, t["norm"]) for u8 in calibration(ins, h, w)])
        with paddle.utils.unique_name.guard():
            state = ER.seeded_state(f["kwargs"], SEED + TASKS.index(t), calib_x, f["build"])[0]
        net = f["build"](**f["kwargs"])
        net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
        model = SigmoidExport(net) if t["head"] == "sigmoid" else ExportModel(net, True)
        model.eval()
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        os.makedirs(os.path.join(dst, "inputs"))
        ER.paddle_export(model, dst, hw=(h, w))
        with open(os.path.join(dst, "inference.yml"), "w") as fh:
            fh.write(inference_yml(t))
        ER.to_onnx(dst, os.path.join(dst, "inference.onnx"))
        pi = ER.run_paddle_inference(dst, xs, mkldnn=False, ir_optim=False)
        ox = ER.run_ort(os.path.join(dst, "inference.onnx"), xs)
        for (inp, u8), out in zip(ins.items(), pi):
            u8.tofile(os.path.join(dst, "inputs", f"{inp}.rgb"))
            ER.write_f32(os.path.join(dst, "paddle_inference", f"{inp}.f32"), out)
        ER.log(f"{name} (full size, {os.path.getsize(os.path.join(dst, 'inference.pdiparams'))} "
               f"bytes of weights): Paddle Inference vs onnxruntime {ER.maxdiff(pi, ox):.2e}")


def main():
    logging.getLogger().setLevel(logging.ERROR)
    paddle.seed(0)
    np.random.seed(0)
    args = sys.argv[1:]
    if args and args[0] == "--full":
        check = None
        if "--check" in args:
            i = args.index("--check")
            check = args[i + 1]
            args = args[:i] + args[i + 2:]
        return export_full(set(args[1:]), check)
    only = set(args)
    unknown = only - {t["name"] for t in TASKS}
    if unknown:
        raise SystemExit(f"unknown names: {sorted(unknown)}")
    man_path = os.path.join(ER.ROOT, "tests/data/reference/paddlex_manifest.json")
    manifest = load_manifest(man_path, keep=bool(only))
    manifest["generator"] = "tools/export_paddlex.py"
    manifest["versions"] = dict(
        paddlepaddle=paddle.__version__, paddle2onnx=ER.paddle2onnx.__version__,
        onnxruntime=ER.ort.__version__, onnx=onnx.__version__, numpy=np.__version__,
        paddleclas="2.6.0")
    manifest["weights"] = "seeded as export_reference.py (BN statistics random, LSUV-scaled convs)"
    models = manifest.setdefault("models", collections.OrderedDict())
    for t in TASKS:
        if only and t["name"] not in only:
            continue
        paddle.base.framework._name_scope = paddle.base.framework.NameScope()
        paddle.base.framework._name_struct = paddle.base.framework.NameStruct()
        with paddle.utils.unique_name.guard():
            export_one(t, models)
    manifest["models"] = collections.OrderedDict(
        (t["name"], models[t["name"]]) for t in TASKS if t["name"] in models)
    with open(man_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
