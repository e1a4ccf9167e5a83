#!/usr/bin/env python3
"""Regenerate every PP-LCNetV2 reference file of the pplcnet crate.

Run from anywhere:   .venv/bin/python tools/export_reference.py

What it does (deterministic: fixed seeds, single-threaded):
  1. Builds PPLCNetV2 with PaddleClas's own architecture code
     (ppcls/arch/backbone/legendary_models/pp_lcnet_v2.py from the paddleclas wheel,
     imported directly with a small package shim, not through `import paddleclas`).
  2. Gives it seeded weights: every BatchNorm (also those inside the rep branches) gets
     random running mean / variance / gamma / beta, every conv/fc bias is random, and
     every conv/fc weight is a seeded normal whose scale is calibrated layer by layer
     (LSUV style) on a fixed calibration batch so activations stay O(1) through the net.
  3. Exports in eval mode exactly like PaddleClas's `engine.export()`:
     re_parameterize() on every sublayer that has it (fused variant only), ExportModel
     wrapper with nn.Softmax(axis=-1) (softmax variant only), paddle.jit.to_static with
     InputSpec([None,3,224,224], 'float32', name='x'), paddle.jit.save (Paddle 3 PIR:
     inference.json + inference.pdiparams); then paddle2onnx (opset 11).
  4. Writes reference inputs, onnxruntime reference outputs, spreads against Paddle
     Inference and Paddle dygraph, and a manifest.
  5. Writes the small model again in the legacy format (inference.pdmodel, via Paddle 2.6 in
     tools/.venv-paddle2, same fused weights) and Paddle Inference reference outputs (CPU, IR
     optimizations and MKLDNN off) for every committed Paddle export.

Outputs (relative to the project root):
  model_assets/pplcnetv2_base.onnx                       base, fused, softmax
  model_assets/imagenet1k_label_list.txt                 copied from the wheel
  tests/data/models/pplcnetv2_base_{fused,unfused}_logits.onnx
  tests/data/models/pplcnetv2_x0_25_c10_{fused,unfused}_{softmax,logits}.onnx
  tests/data/paddle/<model>/inference.{json,pdiparams}    PIR exports (fused+softmax)
  tests/data/paddle/pplcnetv2_x0_25_c10_legacy/inference.{pdmodel,pdiparams}
                                                          legacy export (Paddle 2.6 subprocess,
                                                          tools/export_legacy.py, same weights)
  tests/data/reference/paddle_{pir,legacy}_<model>/<input>.f32
                                                          Paddle Inference outputs (IR optim off)
  tests/data/inputs/<input>.u8                            224*224*3 bytes, HWC, RGB
  tests/data/reference/<model_stem>/<input>.f32           float32 LE, num_classes values
  tests/data/reference/manifest.json
"""

import os

# Keep the CPU use modest and the numerics reproducible: one thread everywhere.
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("GLOG_minloglevel", "2")
# paddle2onnx's default optimize tool (polygraphy) would pip-install onnx-graphsurgeon at
# run time; we install it up front (requirements.txt) and forbid auto-installs.
os.environ["POLYGRAPHY_AUTOINSTALL_DEPS"] = "0"

import collections
import importlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np

warnings.filterwarnings("ignore")

import paddle  # noqa: E402
import paddle.nn as nn  # noqa: E402

paddle.set_device("cpu")

# paddle2onnx's polygraphy constant folding needs these; without them it would try to
# pip-install them at run time (it forces POLYGRAPHY_AUTOINSTALL_DEPS=1).
for _mod in ("onnx_graphsurgeon", "sympy"):
    try:
        importlib.import_module(_mod)
    except ImportError:
        raise SystemExit(f"missing {_mod}: install tools/requirements.txt first")

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import paddle2onnx  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refcommon import ROOT, log, maxdiff, normalize, ort_session, sha256  # noqa: E402

OPSET = 11
H = W = 224

WEIGHT_SEED = 20240601       # weights (base and small use different sub-seeds below)
INPUT_SEED = 1234            # the `noise` reference input
CALIB_SEED = 7               # extra calibration images
FC_TARGET_RMS = 2.5          # RMS over the calibration batch of the fc output minus its mean

# (name, constructor kwargs, weight seed, files to write)
MODELS = [
    dict(
        name="pplcnetv2_base",
        kwargs=dict(scale=1.0, depths=[2, 2, 6, 2], class_num=1000, dropout_prob=0.2),
        seed=WEIGHT_SEED,
        onnx={
            # (fused, softmax) -> path relative to ROOT
            (True, True): "model_assets/pplcnetv2_base.onnx",
            (False, False): "tests/data/models/pplcnetv2_base_unfused_logits.onnx",
            (True, False): "tests/data/models/pplcnetv2_base_fused_logits.onnx",
        },
        paddle_dir="tests/data/paddle/pplcnetv2_base",
        paddle_max_bytes=30 * 1024 * 1024,
        # the legacy format is tested on the small model only (the base would add ~26 MB)
        legacy_dir=None,
    ),
    dict(
        name="pplcnetv2_x0_25_c10",
        kwargs=dict(scale=0.25, depths=[2, 2, 6, 2], class_num=10, dropout_prob=0.2),
        seed=WEIGHT_SEED + 1,
        onnx={
            (True, True): "tests/data/models/pplcnetv2_x0_25_c10_fused_softmax.onnx",
            (True, False): "tests/data/models/pplcnetv2_x0_25_c10_fused_logits.onnx",
            (False, True): "tests/data/models/pplcnetv2_x0_25_c10_unfused_softmax.onnx",
            (False, False): "tests/data/models/pplcnetv2_x0_25_c10_unfused_logits.onnx",
        },
        paddle_dir="tests/data/paddle/pplcnetv2_x0_25_c10",
        paddle_max_bytes=None,
        legacy_dir="tests/data/paddle/pplcnetv2_x0_25_c10_legacy",
    ),
]


# ----------------------------------------------------------------------------------------
# 1. PaddleClas architecture code, imported without the top-level package (tools/ppcls_arch.py,
#    shared with tools/export_legacy.py which runs under Paddle 2.6)
# ----------------------------------------------------------------------------------------
from ppcls_arch import ExportModel, load_pp_lcnet_v2, re_parameterize  # noqa: E402

PPL, PADDLECLAS_ROOT = load_pp_lcnet_v2()


# ----------------------------------------------------------------------------------------
# 2. Inputs
# ----------------------------------------------------------------------------------------
def make_inputs(H=H, W=W):  # noqa: N803 (the module's constants, overridable for other sizes)
    """Reference images: uint8 HWC RGB, 224x224 (or H x W)."""
    rng = np.random.default_rng(INPUT_SEED)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    ins = collections.OrderedDict()
    ins["noise"] = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    # smooth ramps: R left->right, G top->bottom, B along the anti-diagonal
    ins["gradient"] = np.stack([
        x / (W - 1) * 255.0,
        y / (H - 1) * 255.0,
        (x + (H - 1 - y)) / (W + H - 2) * 255.0,
    ], axis=-1).round().astype(np.uint8)
    # high frequency: R 1-pixel checkerboard, G 4-pixel checkerboard, B inverted 1-pixel
    c1 = ((x + y) % 2).astype(np.int64)
    c4 = ((x // 4 + y // 4) % 2).astype(np.int64)
    ins["checker"] = np.stack([c1 * 255, c4 * 255, (1 - c1) * 200 + 20], axis=-1).astype(np.uint8)
    ins["black"] = np.zeros((H, W, 3), dtype=np.uint8)
    ins["white"] = np.full((H, W, 3), 255, dtype=np.uint8)
    return ins


def calibration_images(ins):
    """Reference inputs plus three blocky seeded images (only used to scale weights)."""
    rng = np.random.default_rng(CALIB_SEED)
    extra = [np.kron(rng.uniform(0, 255, size=(7, 7, 3)), np.ones((32, 32, 1))).astype(np.uint8)
             for _ in range(3)]
    return list(ins.values()) + extra


# ----------------------------------------------------------------------------------------
# 3. Seeded weights
# ----------------------------------------------------------------------------------------
def seeded_state(kwargs, seed, calib_x, build=None):
    """Build the (unfused) network (`build(**kwargs)`, default PPLCNetV2), randomize it and
    return its state dict as numpy."""
    net = (build or PPL.PPLCNetV2)(**kwargs)
    net.eval()
    rng = np.random.default_rng(seed)
    for _, layer in net.named_sublayers():
        if isinstance(layer, (nn.BatchNorm2D, nn.BatchNorm)):
            c = layer.weight.shape[0]
            layer.weight.set_value(rng.uniform(0.5, 1.5, c).astype(np.float32))
            layer.bias.set_value((rng.standard_normal(c) * 0.1).astype(np.float32))
            layer._mean.set_value((rng.standard_normal(c) * 0.1).astype(np.float32))
            layer._variance.set_value(rng.uniform(0.5, 2.0, c).astype(np.float32))
        elif isinstance(layer, nn.Conv2D):
            shape = list(layer.weight.shape)
            fan_in = int(np.prod(shape[1:]))
            layer.weight.set_value(
                (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))
            if layer.bias is not None:
                layer.bias.set_value(
                    (rng.standard_normal(layer.bias.shape) * 0.1).astype(np.float32))
        elif isinstance(layer, nn.Linear):
            shape = list(layer.weight.shape)  # [in, out]
            layer.weight.set_value(
                (rng.standard_normal(shape) * np.sqrt(1.0 / shape[0])).astype(np.float32))
            layer.bias.set_value((rng.standard_normal(layer.bias.shape) * 0.1).astype(np.float32))

    # LSUV-style calibration in one forward pass over the calibration batch (unfused form,
    # so the branch convs are the ones scaled). Each conv/fc weight is multiplied by one
    # scalar so that (output - bias) has RMS 1 (fc: FC_TARGET_RMS); the hook also rescales
    # the output it returns so later layers see the calibrated activations.
    scales = []

    def hook(layer, inputs, out):
        bias = layer.bias
        if isinstance(layer, nn.Linear):
            # The pooled features are post-ReLU, so their mean over inputs dominates and a
            # random fc maps every input to the same top class. Keep the random weight (scaled
            # to FC_TARGET_RMS) but shift the random bias by minus the mean logit over the
            # calibration batch, so the top class depends on the input. (Projecting the mean
            # direction out of the weight instead would amplify float noise ~5x.)
            y = (out - bias).numpy().astype(np.float64)
            yc = y - y.mean(0)
            s = np.float32(FC_TARGET_RMS / np.sqrt((yc * yc).mean()))
            layer.weight.set_value(layer.weight.numpy() * s)
            y = paddle.to_tensor((y * float(s)).astype(np.float32))
            new_bias = (bias.numpy() - y.numpy().astype(np.float64).mean(0)).astype(np.float32)
            layer.bias.set_value(new_bias)
            scales.append(float(s))
            return y + paddle.to_tensor(new_bias)
        if bias is None:
            y = out
        else:
            y = out - bias.reshape([1, -1, 1, 1])
        s = np.float32(1.0 / float(paddle.sqrt((y * y).mean())))
        layer.weight.set_value(layer.weight.numpy() * s)
        scales.append(float(s))
        return y * float(s) + (out - y)

    handles = [l.register_forward_post_hook(hook) for _, l in net.named_sublayers()
               if isinstance(l, (nn.Conv2D, nn.Linear))]
    with paddle.no_grad():
        net(paddle.to_tensor(calib_x))
    for h in handles:
        h.remove()
    state = collections.OrderedDict((k, v.numpy().copy()) for k, v in net.state_dict().items())
    return state, scales


def make_model(kwargs, state, fused, softmax, build=None):
    net = (build or PPL.PPLCNetV2)(**kwargs)
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    model = ExportModel(net, softmax)
    model.eval()
    if fused:
        re_parameterize(net)
    return model


# ----------------------------------------------------------------------------------------
# 4. Export and run
# ----------------------------------------------------------------------------------------
def paddle_export(model, out_dir, hw=(H, W)):
    os.makedirs(out_dir, exist_ok=True)
    static = paddle.jit.to_static(
        model,
        input_spec=[paddle.static.InputSpec(shape=[None, 3, *hw], dtype="float32", name="x")],
        full_graph=True)
    paddle.jit.save(static, os.path.join(out_dir, "inference"))
    for f in ("inference.json", "inference.pdiparams"):
        if not os.path.exists(os.path.join(out_dir, f)):
            raise RuntimeError(f"paddle.jit.save did not write {f} in {out_dir}")


def to_onnx(paddle_dir, save_file, opset=OPSET):
    os.makedirs(os.path.dirname(save_file), exist_ok=True)
    if os.path.exists(save_file):
        os.remove(save_file)
    # Same call as the `paddle2onnx` CLI (default optimize_tool polygraphy) with --opset_version 11
    # (other opsets: tools/export_family.py)
    paddle2onnx.export(
        model_filename=os.path.join(paddle_dir, "inference.json"),
        params_filename=os.path.join(paddle_dir, "inference.pdiparams"),
        save_file=save_file,
        opset_version=opset,
        auto_upgrade_opset=True,
        enable_onnx_checker=True,
        enable_experimental_op=True,
        enable_optimize=True,
        deploy_backend="onnxruntime",
        optimize_tool="polygraphy",
    )
    if not os.path.exists(save_file):
        raise RuntimeError(f"paddle2onnx failed for {paddle_dir}")
    model = onnx.load(save_file)
    onnx.checker.check_model(model, full_check=True)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    return model, opsets


def run_ort(path, xs, optimized=False):
    if optimized:  # default session: all graph optimizations (BN folding etc.), default threads
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    else:
        sess = ort_session(path)
    name = sess.get_inputs()[0].name
    return [sess.run(None, {name: x})[0][0].astype(np.float32) for x in xs]


def run_paddle_inference(paddle_dir, xs, mkldnn, ir_optim=None):
    """Paddle Inference on CPU, 1 thread; ir_optim None keeps Paddle's default (on)."""
    from paddle import inference
    model_file = "inference.json"
    if not os.path.exists(os.path.join(paddle_dir, model_file)):
        model_file = "inference.pdmodel"
    cfg = inference.Config(os.path.join(paddle_dir, model_file),
                           os.path.join(paddle_dir, "inference.pdiparams"))
    cfg.disable_gpu()
    if ir_optim is not None:
        cfg.switch_ir_optim(ir_optim)
    cfg.set_cpu_math_library_num_threads(1)
    if mkldnn:
        cfg.enable_mkldnn()
    else:
        cfg.disable_mkldnn()
    cfg.disable_glog_info()
    pred = inference.create_predictor(cfg)
    in_name = pred.get_input_names()[0]
    out_name = pred.get_output_names()[0]
    outs = []
    for x in xs:
        h = pred.get_input_handle(in_name)
        h.reshape(x.shape)
        h.copy_from_cpu(x)
        pred.run()
        outs.append(pred.get_output_handle(out_name).copy_to_cpu()[0].astype(np.float32))
    return outs


# Paddle 2.6 venv for the legacy .pdmodel export (tools/export_legacy.py); see tools/setup_venv.sh
LEGACY_PYTHON = os.environ.get("PADDLE2_PYTHON", os.path.join(ROOT, "tools", ".venv-paddle2", "bin", "python"))
PI_REFERENCE = ("Paddle Inference {} (paddle.inference), CPU, IR optimizations off, MKLDNN off, "
                "1 thread")


def file_info(rel_dir, names):
    d = os.path.join(ROOT, rel_dir)
    return {n: dict(bytes=os.path.getsize(os.path.join(d, n)), sha256=sha256(os.path.join(d, n)))
            for n in names}


def paddle_references(spec, r, xs, fused_state, tmp):
    """Paddle Inference reference outputs (IR optimizations and MKLDNN off, for exactness) for
    every committed Paddle export of this model: the PIR export and, when spec["legacy_dir"], a
    legacy inference.pdmodel written by Paddle 2.6 from the same fused weights. Returns
    [(reference stem, manifest entry with "outputs")]."""
    name, kwargs = spec["name"], spec["kwargs"]
    common = collections.OrderedDict(
        num_classes=kwargs["class_num"], output_kind="probabilities", fused=True,
        architecture=dict(kwargs, constructor="PPLCNetV2"),
        onnx_equivalent=spec["onnx"][(True, True)])
    out = []
    pir_ref = None
    if os.path.isdir(os.path.join(ROOT, spec["paddle_dir"])):
        pir_ref = run_paddle_inference(os.path.join(ROOT, spec["paddle_dir"]), xs, mkldnn=False,
                                       ir_optim=False)
        e = collections.OrderedDict(
            dir=spec["paddle_dir"], format="pir",
            files=file_info(spec["paddle_dir"], ["inference.json", "inference.pdiparams"]),
            written_by=f"paddlepaddle {paddle.__version__} paddle.jit.save (PIR JSON)",
            reference_runtime=PI_REFERENCE.format(paddle.__version__), **common)
        e["spreads"] = collections.OrderedDict([
            ("vs_ort_on_onnx_equivalent", maxdiff(pir_ref, r["ort"])),
            ("vs_paddle_inference_ir_optim_on", maxdiff(pir_ref, r["pi"])),
            ("vs_paddle_dygraph", maxdiff(pir_ref, r["dygraph"])),
        ])
        if r["pi_mkl"] is not None:
            e["spreads"]["vs_paddle_inference_mkldnn"] = maxdiff(pir_ref, r["pi_mkl"])
        e["outputs"] = pir_ref
        out.append((f"paddle_pir_{name}", e))
    if not spec.get("legacy_dir"):
        return out
    if not os.path.exists(LEGACY_PYTHON):
        raise SystemExit(f"{LEGACY_PYTHON} is missing: run tools/setup_venv.sh (it creates the "
                         "Paddle 2.6 venv for the legacy export), or set PADDLE2_PYTHON")
    inputs, result = os.path.join(tmp, "inputs.npz"), os.path.join(tmp, "legacy_result.npz")
    np.savez(inputs, **{f"x{i}": x for i, x in enumerate(xs)})
    job = dict(inputs=inputs, result=result, models=[dict(
        name=name, kwargs=kwargs, softmax=True, state=fused_state,
        out_dir=os.path.join(tmp, "legacy"))])
    job_path = os.path.join(tmp, "legacy_job.json")
    with open(job_path, "w") as f:
        json.dump(job, f)
    subprocess.run([LEGACY_PYTHON, os.path.join(ROOT, "tools", "export_legacy.py"), job_path],
                   check=True)
    dst = os.path.join(ROOT, spec["legacy_dir"])
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    files = ["inference.pdmodel", "inference.pdiparams"]
    for f in files:
        shutil.copyfile(os.path.join(tmp, "legacy", f), os.path.join(dst, f))
    res = np.load(result)
    v2 = str(res["paddle_version"])
    ref = run_paddle_inference(dst, xs, mkldnn=False, ir_optim=False)
    e = collections.OrderedDict(
        dir=spec["legacy_dir"], format="legacy", files=file_info(spec["legacy_dir"], files),
        written_by=f"paddlepaddle {v2} paddle.jit.save (legacy ProgramDesc), from the fused "
                   f"weights of the paddle {paddle.__version__} model (bit-identical)",
        reference_runtime=PI_REFERENCE.format(paddle.__version__), **common)
    e["spreads"] = collections.OrderedDict([
        ("vs_ort_on_onnx_equivalent", maxdiff(ref, r["ort"])),
        ("vs_paddle_inference_ir_optim_on",
         maxdiff(ref, run_paddle_inference(dst, xs, mkldnn=False))),
        (f"vs_paddle_inference_{v2}", maxdiff(ref, res[f"{name}/inference"])),
        (f"vs_paddle_{v2}_dygraph", maxdiff(ref, res[f"{name}/dygraph"])),
        ("vs_paddle_dygraph", maxdiff(ref, r["dygraph"])),
    ])
    if pir_ref is not None:
        e["spreads"]["vs_pir_export_paddle_inference"] = maxdiff(ref, pir_ref)
    e["outputs"] = ref
    out.append((f"paddle_legacy_{name}", e))
    log(f"kept legacy export in {spec['legacy_dir']} (paddle {v2})")
    return out


def run_dygraph(model, xs):
    with paddle.no_grad():
        return [model(paddle.to_tensor(x)).numpy()[0].astype(np.float32) for x in xs]


# ----------------------------------------------------------------------------------------
# 5. ONNX graph statistics
# ----------------------------------------------------------------------------------------
def graph_stats(model):
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    ops = collections.Counter(n.op_type for n in g.node)
    shapes = {}
    inferred = onnx.shape_inference.infer_shapes(model)
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    for name, t in inits.items():
        shapes[name] = list(t.dims)

    def numel_per_sample(dims):
        return int(np.prod([d for d in dims[1:]]))

    macs = collections.Counter()
    for n in g.node:
        if n.op_type == "Conv":
            wdims = shapes[n.input[1]]
            odims = shapes[n.output[0]]
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            per_out = int(np.prod(wdims[1:]))  # Cin/group * kh * kw
            kind = "depthwise" if group > 1 else ("pointwise" if wdims[2:] == [1, 1] else "conv")
            macs[kind] += numel_per_sample(odims) * per_out
        elif n.op_type in ("MatMul", "Gemm"):
            wdims = shapes[n.input[1]]
            macs["fc"] += int(np.prod(wdims))
    float_params = sum(int(np.prod(t.dims)) for t in g.initializer
                       if t.data_type == onnx.TensorProto.FLOAT)
    bn_stats = 0
    for n in g.node:
        if n.op_type == "BatchNormalization":
            bn_stats += sum(int(np.prod(inits[i].dims)) for i in n.input[3:5] if i in inits)
    inp = g.input[0]
    in_dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
               for d in inp.type.tensor_type.shape.dim]
    out = g.output[0]
    out_dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                for d in out.type.tensor_type.shape.dim]
    return dict(
        op_counts=dict(sorted(ops.items())),
        num_nodes=len(g.node),
        num_initializers=len(g.initializer),
        input=dict(name=inp.name, dims=in_dims),
        output=dict(name=out.name, dims=out_dims),
        float_parameters=float_params,
        float_parameters_without_bn_running_stats=float_params - bn_stats,
        multiply_adds=int(sum(macs.values())),
        multiply_adds_by_kind=dict(sorted(macs.items())),
    )



def write_f32(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.asarray(arr, dtype="<f4").tofile(path)


# ----------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------
def main():
    logging.getLogger().setLevel(logging.ERROR)
    paddle.seed(0)
    np.random.seed(0)
    rel = lambda p: os.path.relpath(p, ROOT)  # noqa: E731
    P = lambda p: os.path.join(ROOT, p)  # noqa: E731

    # inputs
    ins = make_inputs()
    for name, u8 in ins.items():
        path = P(f"tests/data/inputs/{name}.u8")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        assert u8.shape == (H, W, 3) and u8.dtype == np.uint8
        u8.tofile(path)
    xs = [normalize(u8) for u8 in ins.values()]
    calib_x = np.concatenate([normalize(u8) for u8 in calibration_images(ins)])

    # labels
    os.makedirs(P("model_assets"), exist_ok=True)
    shutil.copyfile(os.path.join(PADDLECLAS_ROOT, "ppcls/utils/imagenet1k_label_list.txt"),
                    P("model_assets/imagenet1k_label_list.txt"))

    # Only this script's reference directories are replaced (tools/export_family.py writes others).
    ref_root = P("tests/data/reference")
    stems = [os.path.splitext(os.path.basename(t))[0] for spec in MODELS for t in spec["onnx"].values()]
    stems += [f"paddle_{kind}_{spec['name']}" for spec in MODELS for kind in ("pir", "legacy")]
    for stem in stems:
        if os.path.isdir(os.path.join(ref_root, stem)):
            shutil.rmtree(os.path.join(ref_root, stem))
    os.makedirs(ref_root, exist_ok=True)

    manifest = collections.OrderedDict()
    manifest["generator"] = "tools/export_reference.py"
    manifest["versions"] = dict(
        python=sys.version.split()[0], paddlepaddle=paddle.__version__,
        paddle2onnx=paddle2onnx.__version__, onnxruntime=ort.__version__,
        onnx=onnx.__version__, numpy=np.__version__, paddleclas="2.6.0")
    manifest["onnx_opset"] = OPSET
    manifest["preprocess"] = dict(
        layout="u8 HWC RGB 224x224 -> f32 NCHW [1,3,224,224]",
        formula="(u8.astype(float32) * float32(0.00392157) - mean) / std",
        scale="0.00392157", mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    manifest["reference_runtime"] = ("onnxruntime CPUExecutionProvider, ORT_DISABLE_ALL, "
                                     "1 intra-op thread, sequential")
    manifest["inputs"] = {name: f"tests/data/inputs/{name}.u8" for name in ins}
    manifest["weights"] = dict(
        note=("random seeded weights, NOT the official pretrained ones. BN: mean N(0,1)*0.1, "
              "var U(0.5,2), gamma U(0.5,1.5), beta N(0,1)*0.1 (every BN incl. rep branches); "
              "conv/fc bias N(0,1)*0.1; conv weight N(0, 2/fan_in), fc weight N(0, 1/in), each "
              "then multiplied by one scalar so its output has RMS 1 (fc: centered RMS %.1f) "
              "on a fixed calibration batch (LSUV); the fc bias is the random bias minus the mean "
              "logit over the calibration batch, so the top class varies with the input." % FC_TARGET_RMS),
    )
    manifest["models"] = collections.OrderedDict()
    manifest["paddle_models"] = collections.OrderedDict()
    summary = []

    for spec in MODELS:
        name, kwargs = spec["name"], spec["kwargs"]
        log(f"\n=== {name}: PPLCNetV2({kwargs})")
        state, scales = seeded_state(kwargs, spec["seed"], calib_x)
        log(f"calibration scales: min {min(scales):.3f} max {max(scales):.3f} ({len(scales)} layers)")
        results = {}
        with tempfile.TemporaryDirectory(prefix="pplcnet_export_") as tmp:
            for fused in (True, False):
                for softmax in (True, False):
                    variant = f"{'fused' if fused else 'unfused'}_{'softmax' if softmax else 'logits'}"
                    model = make_model(kwargs, state, fused, softmax)
                    dy = run_dygraph(model, xs)
                    pdir = os.path.join(tmp, variant)
                    paddle_export(model, pdir)
                    pi = run_paddle_inference(pdir, xs, mkldnn=False)
                    try:
                        pi_mkl = run_paddle_inference(pdir, xs, mkldnn=True)
                        mkl_err = None
                    except Exception as e:  # pragma: no cover
                        pi_mkl, mkl_err = None, repr(e)
                    target = spec["onnx"].get((fused, softmax))
                    if target is None:
                        tmp_onnx = os.path.join(tmp, variant + ".onnx")
                    else:
                        tmp_onnx = P(target)
                    omodel, opsets = to_onnx(pdir, tmp_onnx)
                    ox = run_ort(tmp_onnx, xs)
                    ox_opt = run_ort(tmp_onnx, xs, optimized=True)
                    results[(fused, softmax)] = dict(
                        variant=variant, target=target, onnx_path=tmp_onnx, ort=ox, ort_opt=ox_opt, dygraph=dy,
                        pi=pi, pi_mkl=pi_mkl, mkl_err=mkl_err, opsets=opsets,
                        stats=graph_stats(omodel))
                    if (fused, softmax) == (True, True):
                        dst = P(spec["paddle_dir"])
                        if os.path.isdir(dst):
                            shutil.rmtree(dst)
                        size = sum(os.path.getsize(os.path.join(pdir, f))
                                   for f in ("inference.json", "inference.pdiparams"))
                        if spec["paddle_max_bytes"] is None or size <= spec["paddle_max_bytes"]:
                            os.makedirs(dst)
                            for f in ("inference.json", "inference.pdiparams"):
                                shutil.copyfile(os.path.join(pdir, f), os.path.join(dst, f))
                            log(f"kept Paddle PIR export in {rel(dst)} ({size} bytes)")
                        else:
                            log(f"Paddle PIR export of {name} is {size} bytes > limit: not kept")
                        results[(fused, softmax)]["paddle_dir_size"] = size
                        # the fused weights, for the Paddle 2.6 legacy export (bit-identical weights)
                        fused_state = os.path.join(tmp, "fused_state.npz")
                        np.savez(fused_state, **{k: v.numpy() for k, v in model.base_model.state_dict().items()})
                    log(f"{variant}: exported, ORT vs Paddle Inference {maxdiff(ox, pi):.2e}")

            paddle_refs = paddle_references(spec, results[(True, True)], xs, fused_state, tmp)

        # sanity: outputs must depend on the input and logits must be O(1..15)
        logits = np.stack(results[(True, False)]["ort"])
        probs = np.stack(results[(True, True)]["ort"])
        spread = float((logits.max(0) - logits.min(0)).max())
        absmax = np.abs(logits).max(1)
        pmax = probs.max(1)
        log(f"logit |max| per input: {np.round(absmax, 2).tolist()}")
        log(f"logit spread across inputs (max over classes of max-min): {spread:.3f}")
        log(f"softmax max prob per input: {np.round(pmax, 4).tolist()}; "
            f"argmax: {logits.argmax(1).tolist()}")
        if spread < 1e-1:
            raise SystemExit(f"{name}: outputs hardly depend on the input (spread {spread})")
        if not (absmax.max() < 50 and absmax.min() > 0.5):
            raise SystemExit(f"{name}: logit magnitudes out of range: {absmax}")
        if np.all(pmax > 0.99):
            raise SystemExit(f"{name}: softmax one-hot for every input")

        fused_vs_unfused = {
            "logits": maxdiff(results[(True, False)]["ort"], results[(False, False)]["ort"]),
        }
        fused_vs_unfused["softmax"] = maxdiff(results[(True, True)]["ort"],
                                              results[(False, True)]["ort"])
        softmax_check = float(max(
            np.abs(np.exp(l - l.max()) / np.exp(l - l.max()).sum() - p).max()
            for l, p in zip(results[(True, False)]["ort"], results[(True, True)]["ort"])))

        for (fused, softmax), target in spec["onnx"].items():
            r = results[(fused, softmax)]
            stem = os.path.splitext(os.path.basename(target))[0]
            for inp, out in zip(ins, r["ort"]):
                write_f32(os.path.join(ref_root, stem, f"{inp}.f32"), out)
            entry = collections.OrderedDict()
            entry["file"] = target
            entry["sha256"] = sha256(P(target))
            entry["bytes"] = os.path.getsize(P(target))
            entry["architecture"] = dict(kwargs, constructor="PPLCNetV2")
            entry["num_classes"] = kwargs["class_num"]
            entry["output_kind"] = "probabilities" if softmax else "logits"
            entry["fused"] = fused
            entry["opset"] = r["opsets"]
            entry["inputs"] = list(ins)
            entry["reference_dir"] = f"tests/data/reference/{stem}"
            entry["input_name"] = r["stats"]["input"]["name"]
            entry["input_dims"] = r["stats"]["input"]["dims"]
            entry["output_name"] = r["stats"]["output"]["name"]
            entry["output_dims"] = r["stats"]["output"]["dims"]
            entry["output_absmax"] = float(np.abs(np.stack(r["ort"])).max())
            entry["spreads"] = collections.OrderedDict([
                ("ort_vs_paddle_inference", maxdiff(r["ort"], r["pi"])),
                ("ort_vs_paddle_inference_mkldnn",
                 maxdiff(r["ort"], r["pi_mkl"]) if r["pi_mkl"] is not None else None),
                ("paddle_inference_vs_mkldnn",
                 maxdiff(r["pi"], r["pi_mkl"]) if r["pi_mkl"] is not None else None),
                ("ort_vs_paddle_dygraph", maxdiff(r["ort"], r["dygraph"])),
                ("ort_vs_ort_all_optimizations", maxdiff(r["ort"], r["ort_opt"])),
                ("fused_vs_unfused_ort", fused_vs_unfused["softmax" if softmax else "logits"]),
                ("logit_spread_across_inputs", spread),
            ])
            if r["mkl_err"]:
                entry["spreads"]["mkldnn_error"] = r["mkl_err"]
            entry["graph"] = r["stats"]
            if (fused, softmax) == (True, True):
                entry["paddle_pir_export"] = (spec["paddle_dir"] if os.path.isdir(P(spec["paddle_dir"]))
                                              else None)
                entry["softmax_of_fused_logits_vs_probabilities"] = softmax_check
            manifest["models"][stem] = entry
            summary.append((stem, entry))

        for stem, pentry in paddle_refs:
            for inp, out in zip(ins, pentry.pop("outputs")):
                write_f32(os.path.join(ref_root, stem, f"{inp}.f32"), out)
            pentry["inputs"] = list(ins)
            pentry["reference_dir"] = f"tests/data/reference/{stem}"
            manifest["paddle_models"][stem] = pentry

    with open(os.path.join(ref_root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")

    # ------------------------------------------------------------------ summary
    log("\n=== summary")
    log("versions: " + ", ".join(f"{k} {v}" for k, v in manifest["versions"].items()))
    total = 0
    for stem, e in summary:
        g = e["graph"]
        total += e["bytes"]
        log(f"\n{stem}  ({e['file']}, {e['bytes']} bytes, opset {e['opset']}, "
            f"{e['output_kind']}, input {g['input']['name']} {g['input']['dims']}, "
            f"output {g['output']['name']} {g['output']['dims']})")
        log("  ops: " + ", ".join(f"{k} {v}" for k, v in g["op_counts"].items()))
        log(f"  params {g['float_parameters']} (without BN running stats "
            f"{g['float_parameters_without_bn_running_stats']}), multiply-adds {g['multiply_adds']} "
            f"{g['multiply_adds_by_kind']}")
        log("  spreads: " + ", ".join(
            f"{k} {v:.2e}" if isinstance(v, float) else f"{k} {v}" for k, v in e["spreads"].items()))
        if "softmax_of_fused_logits_vs_probabilities" in e:
            log(f"  softmax(fused logits) vs fused probabilities: "
                f"{e['softmax_of_fused_logits_vs_probabilities']:.2e}")
    log(f"\ntotal ONNX bytes: {total}")
    for stem, e in manifest["paddle_models"].items():
        log(f"\n{stem}  ({e['format']}, {e['dir']}, written by {e['written_by']})")
        log("  spreads: " + ", ".join(f"{k} {v:.2e}" for k, v in e["spreads"].items()))


if __name__ == "__main__":
    main()
