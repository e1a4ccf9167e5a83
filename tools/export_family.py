#!/usr/bin/env python3
"""Export the model family (PP-LCNetV2 small/large, PP-LCNet V1, MobileNetV3) and exporter
variants of the pplcnet crate's test models, with onnxruntime reference outputs.

Run from anywhere:   .venv/bin/python tools/export_family.py [stem ...]

Reuses tools/export_reference.py (seeding with non-trivial BatchNorm statistics, LSUV weight
scaling, Paddle export, paddle2onnx, onnxruntime settings, reference inputs) and the PaddleClas
architecture code of the paddleclas wheel (tools/ppcls_arch.py). Deterministic: a second run
gives byte-identical files. Writes (relative to the project root):

  tests/data/models/<stem>.onnx
  tests/data/reference/<stem>/<input>.f32      onnxruntime, ORT_DISABLE_ALL, 1 thread
  tests/data/inputs/<H>x<W>/<input>.u8         reference inputs of the non-224 graphs
  tests/data/reference/family_manifest.json    per model: how it was made, sha256, sizes, spreads

With stem arguments only those models are exported (the manifest keeps the other entries).
"""

import collections
import copy
import json
import logging
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_reference as ER  # noqa: E402  (sets threads, imports paddle/onnx/ort)
from ppcls_arch import load_legendary  # noqa: E402
from refcommon import load_manifest  # noqa: E402

import onnx  # noqa: E402
import paddle  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

V2, _ = load_legendary("pp_lcnet_v2")
V1, _ = load_legendary("pp_lcnet")
MV3, _ = load_legendary("mobilenet_v3")
# TheseusLayer.init_res (MobileNetV3) logs a deprecation warning through PaddleClas's logger.
sys.modules["ppcls.utils.logger"].init_logger(log_level=logging.ERROR)

SEED = ER.WEIGHT_SEED + 100
# Small models for the exporter variants (a narrow 256-wide head keeps each file < 1 MB, except
# PPLCNet_x1_0 whose backbone alone is ~4 MB): every op of the full-size graphs, little space.
V2_TINY = dict(build=V2.PPLCNetV2, kwargs=dict(scale=0.25, depths=[1, 1, 2, 1], class_num=10,
                                               dropout_prob=0.2, class_expand=256), seed=SEED + 7)
V1_X0_25_C10 = dict(build=V1.PPLCNet_x0_25, kwargs=dict(class_num=10, class_expand=256),
                    seed=SEED + 3)
MV3_X0_35_C10 = dict(build=MV3.MobileNetV3_large_x0_35, kwargs=dict(class_num=10, class_expand=256),
                     seed=SEED + 5)


def spec(stem, net, fused=True, softmax=False, opset=11, post=None, size=224, dynamic=False,
         paddle=None, note=""):
    """One exported graph; `size` is the side of its reference inputs, `dynamic` leaves the
    graph's H and W unset (the compiler takes them from PPLCNET_INPUT_SIZE); `paddle` names a
    directory under tests/data/paddle/ that keeps the Paddle PIR export the ONNX came from, with
    Paddle Inference references in tests/data/reference/paddle_pir_<name>/."""
    return dict(stem=stem, net=net, fused=fused, softmax=softmax, opset=opset, post=post,
                size=size, dynamic=dynamic, paddle=paddle, note=note)


MODELS = [
    # full size, 1000 classes: one per architecture (factory functions of the wheel)
    spec("pplcnetv2_small_fused_logits",
         dict(build=V2.PPLCNetV2_small, kwargs=dict(class_num=1000), seed=SEED),
         note="PPLCNetV2_small: scale 0.75, depths 2,2,4,2"),
    spec("pplcnetv2_large_fused_logits",
         dict(build=V2.PPLCNetV2_large, kwargs=dict(class_num=1000), seed=SEED + 1),
         note="PPLCNetV2_large: scale 1.25, depths 2,2,8,2"),
    spec("pplcnet_x2_5_logits", dict(build=V1.PPLCNet_x2_5, kwargs=dict(class_num=1000),
                                     seed=SEED + 2), note="PPLCNet_x2_5 (V1)"),
    spec("mobilenetv3_large_x1_25_logits",
         dict(build=MV3.MobileNetV3_large_x1_25, kwargs=dict(class_num=1000), seed=SEED + 4),
         note="MobileNetV3_large_x1_25"),
    # V1 at the other scales; a non-1000 class count; a fixed non-224 input
    spec("pplcnet_x1_0_c102_logits",
         dict(build=V1.PPLCNet_x1_0, kwargs=dict(class_num=102, class_expand=256), seed=SEED + 6),
         note="PPLCNet_x1_0, 102 classes, 256-wide head"),
    spec("pplcnet_x0_25_c10_logits", V1_X0_25_C10, paddle="pplcnet_x0_25_c10",
         note="PPLCNet_x0_25, 10 classes"),
    spec("pplcnet_x0_25_c10_opset13_softmax", V1_X0_25_C10, opset=13, softmax=True),
    spec("pplcnet_x0_25_c10_192_logits", V1_X0_25_C10, size=192,
         note="fixed 192x192 input (weights calibrated at 224, as pplcnet_x0_25_c10)"),
    spec("pplcnet_x0_25_c10_dynamic_logits", V1_X0_25_C10, size=256, dynamic=True,
         note="dynamic H and W ([N, 3, H, W]); references at 256x256 (PPLCNET_INPUT_SIZE=256)"),
    spec("pplcnet_x0_25_c10_torchstyle_logits", V1_X0_25_C10, opset=13, post="torchstyle"),
    spec("pplcnet_x0_25_c10_torchstyle_opset9_logits", V1_X0_25_C10, opset=9, post="torchstyle",
         note="torch-style at opset 9: Clip bounds as attributes"),
    # MobileNetV3 reduced, torch-style (hard-swish and SE hard-sigmoid as Clip arithmetic)
    spec("mobilenetv3_large_x0_35_c10_torchstyle_logits", MV3_X0_35_C10, opset=13,
         post="torchstyle", paddle="mobilenetv3_large_x0_35_c10",
         note="MobileNetV3_large_x0_35, 10 classes"),
    # exporter variants of a small PP-LCNetV2 (opset 11: export_reference.py's models)
    spec("pplcnetv2_tiny_opset9_logits", V2_TINY, opset=9,
         note="PPLCNetV2 scale 0.25, depths 1,1,2,1, 256-wide head, 10 classes"),
    spec("pplcnetv2_tiny_opset13_logits", V2_TINY, opset=13),
    spec("pplcnetv2_tiny_opset13_unfused_logits", V2_TINY, opset=13, fused=False),
    spec("pplcnetv2_tiny_onnxslim_logits", V2_TINY, post="onnxslim",
         note="paddle2onnx opset 11, then onnxslim"),
    spec("pplcnetv2_tiny_torchstyle_logits", V2_TINY, opset=13, post="torchstyle",
         note="paddle2onnx opset 13 rewritten into torch.onnx.export patterns (torch_style)"),
]

# Exported only when named on the command line, not committed (too large for the repository):
# the unfused training graphs of the full-size PPLCNetV2_small and _large (same seeds as the fused
# ones), kept out of the manifest. Checked once by adding them to testmodels locally (tools/README.md).
EXTRA_MODELS = [
    spec("pplcnetv2_small_unfused_logits", MODELS[0]["net"], fused=False),
    spec("pplcnetv2_large_unfused_logits", MODELS[1]["net"], fused=False),
]


# ----------------------------------------------------------------------------------------
# Post-processing: onnxslim and a torch.onnx.export-style rewrite
# ----------------------------------------------------------------------------------------
def slim(model):
    import onnxslim
    return onnxslim.slim(model)


def torch_style(model):
    """Rewrite a paddle2onnx graph into the op patterns torch.onnx.export produces (no torch
    wheel here): HardSigmoid -> Div(Clip(Add(x, beta/alpha), 0, 1/alpha), 1/alpha) (torch's
    hardsigmoid/hardswish arithmetic (x+3)/6 when alpha = 1/6), MatMul + Add -> Gemm(transB=1)
    with an [out, in] weight, Reshape to [N, -1] -> Flatten, every initializer -> a Constant
    node, and torch-like names (`/layer3/Conv`, `onnx::Conv_12`, input `input`, output
    `output`)."""
    m = copy.deepcopy(model)
    g = m.graph
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    consumers = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)
    nodes, extra = [], {}
    counter = [0]

    def const(arr):
        counter[0] += 1
        name = f"const_{counter[0]}"
        extra[name] = np.asarray(arr, dtype=np.float32)
        return name

    skip = set()
    for n in g.node:
        if id(n) in skip:
            continue
        if n.op_type == "HardSigmoid":
            a = {x.name: x.f for x in n.attribute}
            alpha, beta = a.get("alpha", 0.2), a.get("beta", 0.5)
            t1, t2 = n.output[0] + "_add", n.output[0] + "_clip"
            nodes.append(helper.make_node("Add", [n.input[0], const(beta / alpha)], [t1]))
            if opset < 11:  # bounds are attributes before opset 11, inputs after
                nodes.append(helper.make_node("Clip", [t1], [t2], min=0.0, max=1.0 / alpha))
            else:
                nodes.append(helper.make_node("Clip", [t1, const(0.0), const(1.0 / alpha)], [t2]))
            nodes.append(helper.make_node("Div", [t2, const(1.0 / alpha)], [n.output[0]]))
        elif (n.op_type == "MatMul" and n.input[1] in inits
              and len(consumers[n.output[0]]) == 1
              and consumers[n.output[0]][0].op_type == "Add"
              and any(i in inits for i in consumers[n.output[0]][0].input)):
            add = consumers[n.output[0]][0]
            bias = next(i for i in add.input if i in inits)
            w = inits[n.input[1]]
            nodes.append(helper.make_node("Gemm", [n.input[0], const(w.T), const(inits[bias])],
                                          [add.output[0]], alpha=1.0, beta=1.0, transB=1))
            skip.add(id(add))
        elif (n.op_type == "Reshape" and len(consumers[n.output[0]]) == 1
              and consumers[n.output[0]][0].op_type == "MatMul"):
            # the [N, C, 1, 1] -> [N, C] before the classifier (its Shape/Slice/Concat die below)
            nodes.append(helper.make_node("Flatten", [n.input[0]], list(n.output), axis=1))
        else:
            nodes.append(n)
    # drop nodes whose outputs nothing reads any more
    while True:
        read = {i for n in nodes for i in n.input} | {g.output[0].name}
        live = [n for n in nodes if any(o in read for o in n.output)]
        if len(live) == len(nodes):
            break
        nodes = live
    used = {i for n in nodes for i in n.input}
    values = {k: v for k, v in inits.items() if k in used}
    values.update(extra)
    # initializers -> Constant nodes, first
    head = [helper.make_node("Constant", [], [k], value=numpy_helper.from_array(v, k))
            for k, v in values.items()]
    order = head + nodes
    # torch-like names
    rename = {g.input[0].name: "input", g.output[0].name: "output"}
    for i, n in enumerate(order):
        for o in n.output:
            if o not in rename:
                rename[o] = f"onnx::{n.op_type}_{i}"
    out_nodes = []
    for i, n in enumerate(order):
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        out_nodes.append(helper.make_node(
            n.op_type, [rename.get(x, x) if x else "" for x in n.input],
            [rename.get(x, x) for x in n.output], name=f"/layer{i}/{n.op_type}", **attrs))
    inp = copy.deepcopy(g.input[0])
    inp.name = "input"
    out = copy.deepcopy(g.output[0])
    out.name = "output"
    graph = helper.make_graph(out_nodes, "main_graph", [inp], [out])
    new = helper.make_model(graph, opset_imports=list(m.opset_import),
                            producer_name="pytorch", producer_version="2.x (emulated)")
    new.ir_version = m.ir_version
    onnx.checker.check_model(new, full_check=True)
    return new


# ----------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------
def size_inputs(size):
    """The reference inputs at `size` (224: the committed tests/data/inputs/*.u8)."""
    ins = ER.make_inputs(size, size)
    if size != ER.H:
        d = os.path.join(ER.ROOT, f"tests/data/inputs/{size}x{size}")
        os.makedirs(d, exist_ok=True)
        for name, u8 in ins.items():
            u8.tofile(os.path.join(d, f"{name}.u8"))
    else:
        for name, u8 in ins.items():
            committed = np.fromfile(os.path.join(ER.ROOT, f"tests/data/inputs/{name}.u8"), np.uint8)
            assert np.array_equal(committed, u8.reshape(-1)), f"inputs/{name}.u8 is stale"
    return ins


def main():
    logging.getLogger().setLevel(logging.ERROR)
    paddle.seed(0)
    np.random.seed(0)
    only = set(sys.argv[1:])
    specs = MODELS + [s for s in EXTRA_MODELS if s["stem"] in only]
    unknown = only - {s["stem"] for s in specs}
    if unknown:
        raise SystemExit(f"unknown stems: {sorted(unknown)}")
    P = lambda p: os.path.join(ER.ROOT, p)  # noqa: E731
    ins224 = ER.make_inputs()
    calib_x = np.concatenate([ER.normalize(u8) for u8 in ER.calibration_images(ins224)])

    man_path = P("tests/data/reference/family_manifest.json")
    manifest = load_manifest(man_path, keep=bool(only))
    manifest["generator"] = "tools/export_family.py"
    manifest["versions"] = dict(
        paddlepaddle=paddle.__version__, paddle2onnx=ER.paddle2onnx.__version__,
        onnxruntime=ER.ort.__version__, onnx=onnx.__version__, numpy=np.__version__,
        paddleclas="2.6.0")
    manifest["reference_runtime"] = "onnxruntime CPU, ORT_DISABLE_ALL, 1 thread (as export_reference.py)"
    manifest["weights"] = "seeded as export_reference.py (BN statistics random, LSUV-scaled convs)"
    models = manifest.setdefault("models", collections.OrderedDict())
    states = {}
    for s in specs:
        if only and s["stem"] not in only:
            continue
        # Paddle names parameters (and PIR records layer scopes) from process-wide counters: fresh
        # ones per model keep each file independent of which models were exported before it.
        paddle.base.framework._name_scope = paddle.base.framework.NameScope()
        paddle.base.framework._name_struct = paddle.base.framework.NameStruct()
        with paddle.utils.unique_name.guard():
            export_one(s, P, calib_x, states, models)
    order = [k for s in MODELS for k in (s["stem"], f"paddle_pir_{s['paddle']}")]
    manifest["models"] = collections.OrderedDict((k, models[k]) for k in order if k in models)
    manifest["total_onnx_bytes"] = sum(e.get("bytes", 0) for e in manifest["models"].values())
    with open(man_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    ER.log(f"\ntotal ONNX bytes: {manifest['total_onnx_bytes']}")


def keep_paddle(name, pdir, xs, ins, dy, models):
    """Copies the PIR export to tests/data/paddle/<name>/ and writes Paddle Inference's outputs
    (CPU, IR optimizations and MKLDNN off, as export_reference.py) as its references."""
    import shutil
    dst = os.path.join(ER.ROOT, "tests/data/paddle", name)
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    files = ["inference.json", "inference.pdiparams"]
    for f in files:
        shutil.copyfile(os.path.join(pdir, f), os.path.join(dst, f))
    ref = ER.run_paddle_inference(dst, xs, mkldnn=False, ir_optim=False)
    stem = f"paddle_pir_{name}"
    for inp, out in zip(ins, ref):
        ER.write_f32(os.path.join(ER.ROOT, f"tests/data/reference/{stem}/{inp}.f32"), out)
    e = collections.OrderedDict()
    e["dir"] = f"tests/data/paddle/{name}"
    e["format"] = "pir"
    e["files"] = ER.file_info(e["dir"], files)
    e["written_by"] = f"paddlepaddle {paddle.__version__} paddle.jit.save (PIR JSON)"
    e["reference_runtime"] = ER.PI_REFERENCE.format(paddle.__version__)
    e["spreads"] = {"vs_paddle_dygraph": ER.maxdiff(ref, dy)}
    models[stem] = e
    ER.log(f"kept the Paddle export in {e['dir']}; Paddle Inference vs dygraph "
           f"{e['spreads']['vs_paddle_dygraph']:.2e}")


def export_one(s, P, calib_x, states, models):
    """Exports one model of MODELS, writes its references and adds its manifest entry."""
    stem, net = s["stem"], s["net"]
    ER.log(f"\n=== {stem}: {net['build'].__name__}({net['kwargs']}) opset {s['opset']} "
           f"{'fused' if s['fused'] else 'unfused'} {s['post'] or ''}")
    key = (net["build"].__name__, json.dumps(net["kwargs"], sort_keys=True), net["seed"])
    if key not in states:  # computed once per network, in its own name space
        with paddle.utils.unique_name.guard():
            states[key] = ER.seeded_state(net["kwargs"], net["seed"], calib_x, net["build"])[0]
    state = states[key]
    model = ER.make_model(net["kwargs"], state, s["fused"], s["softmax"], net["build"])
    ins = size_inputs(s["size"])
    xs = [ER.normalize(u8) for u8 in ins.values()]
    dy = ER.run_dygraph(model, xs)
    path = P(f"tests/data/models/{stem}.onnx")
    with tempfile.TemporaryDirectory(prefix="pplcnet_family_") as tmp:
        pdir = os.path.join(tmp, "paddle")
        ER.paddle_export(model, pdir, hw=(None, None) if s["dynamic"] else (s["size"], s["size"]))
        if s["paddle"]:
            keep_paddle(s["paddle"], pdir, xs, ins, dy, models)
        raw = os.path.join(tmp, "raw.onnx")
        omodel, opsets = ER.to_onnx(pdir, raw, opset=s["opset"])
        raw_out = ER.run_ort(raw, xs)
        if s["post"] == "onnxslim":
            omodel = slim(omodel)
        elif s["post"] == "torchstyle":
            omodel = torch_style(omodel)
        onnx.save(omodel, path)
    ox = ER.run_ort(path, xs)
    ox_opt = ER.run_ort(path, xs, optimized=True)
    logits = np.stack(ox)
    spread = float((logits.max(0) - logits.min(0)).max())
    if spread < 1e-3:
        raise SystemExit(f"{stem}: outputs hardly depend on the input (spread {spread})")
    if not s["softmax"] and not (5e-1 < np.abs(logits).max() < 100):
        raise SystemExit(f"{stem}: logit magnitudes out of range")
    for name, out in zip(ins, ox):
        ER.write_f32(P(f"tests/data/reference/{stem}/{name}.f32"), out)
    fixed = onnx.load(path)
    if s["dynamic"]:  # statistics at the reference size (graph_stats needs static shapes)
        for d in fixed.graph.input[0].type.tensor_type.shape.dim[2:]:
            d.dim_value = s["size"]
    stats = ER.graph_stats(fixed)
    e = collections.OrderedDict()
    e["file"] = f"tests/data/models/{stem}.onnx"
    e["sha256"] = ER.sha256(path)
    e["bytes"] = os.path.getsize(path)
    e["constructor"] = f"{net['build'].__module__.split('.')[-1]}.{net['build'].__name__}"
    e["kwargs"] = net["kwargs"]
    e["weight_seed"] = net["seed"]
    e["fused"] = s["fused"]
    e["output_kind"] = "probabilities" if s["softmax"] else "logits"
    e["paddle2onnx_opset"] = s["opset"]
    e["opset"] = {o.domain or "ai.onnx": o.version for o in omodel.opset_import}
    e["post"] = s["post"]
    e["note"] = s["note"]
    e["input_size"] = [s["size"], s["size"]]
    e["dynamic_input_size"] = s["dynamic"]
    e["inputs"] = (f"tests/data/inputs/{s['size']}x{s['size']}" if s["size"] != ER.H
                   else "tests/data/inputs")
    e["spreads"] = collections.OrderedDict([
        ("ort_vs_paddle_dygraph", ER.maxdiff(ox, dy)),
        ("ort_vs_ort_all_optimizations", ER.maxdiff(ox, ox_opt)),
        ("ort_vs_paddle2onnx_output_before_post", ER.maxdiff(ox, raw_out)),
        ("logit_spread_across_inputs", spread),
    ])
    e["argmax"] = logits.argmax(1).tolist()
    e["graph"] = stats
    models[stem] = e
    ER.log(f"{e['bytes']} bytes, ops {stats['op_counts']}")
    ER.log("spreads: " + ", ".join(f"{k} {v:.2e}" for k, v in e["spreads"].items())
           + f"; argmax {e['argmax']}")
    if e["spreads"]["ort_vs_paddle_dygraph"] > 1e-4:
        raise SystemExit(f"{stem}: onnxruntime and Paddle dygraph disagree")
    # onnxslim folds BatchNorm into the convs: float rounding only
    if e["spreads"]["ort_vs_paddle2onnx_output_before_post"] > 1e-4:
        raise SystemExit(f"{stem}: {s['post']} changed the outputs")


if __name__ == "__main__":
    main()
