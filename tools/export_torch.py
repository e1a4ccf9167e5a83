#!/usr/bin/env python3
"""Real torch.onnx.export graphs of the small family models, with onnxruntime references.

Run from anywhere:   tools/.venv-torch/bin/python tools/export_torch.py [stem ...]

PyTorch nn.Modules written the way a PyTorch user writes these networks (nn.Conv2d/BatchNorm2d,
nn.Hardswish, nn.Hardsigmoid, nn.ReLU, nn.AdaptiveAvgPool2d, torch.flatten, nn.Linear), mirroring
PaddleClas's PP-LCNet V1, PP-LCNetV2 (unfused: the training graph with parallel 5x5/3x3/1x1
depthwise branches) and MobileNetV3_large. Their weights are read from the committed
paddle2onnx graphs (tests/data/models/, the seeded weights of tools/export_family.py), and the
module must reproduce that graph's onnxruntime outputs on the committed reference inputs
(max |diff| <= 1e-4) before anything is exported. Each module is then exported by torch's own
exporters: the TorchScript exporter (`dynamo=False`) at opset 13 and 9, and the torch.export-based
exporter (`dynamo=True`, the opset it emits by default). Both fold BatchNorm into the convs (eval
mode), so the graphs carry conv biases, Gemm, Flatten or Reshape, HardSigmoid + Mul (opset < 14)
or HardSwish, Clip arithmetic, Constant nodes or initializers and torch's node naming.

Writes (relative to the project root):

  tests/data/models/<stem>.onnx
  tests/data/reference/<stem>/<input>.f32     onnxruntime CPU, ORT_DISABLE_ALL, 1 thread, on the
                                              committed tests/data/inputs/<input>.u8 (normalized
                                              as tools/export_reference.py does)
  tests/data/reference/torch_manifest.json    per model: source graph, exporter, sha256, op counts,
                                              spreads

Deterministic: a second run writes byte-identical files.
"""

import collections
import json
import os
import sys
import time
import warnings

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from onnx import numpy_helper  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refcommon import ROOT, load_manifest, log, maxdiff, normalize, ort_session, sha256  # noqa: E402

torch.set_num_threads(1)
INPUTS = ["noise", "gradient", "checker", "black", "white"]
TOL = 1e-4  # max |diff| allowed between runtimes


# ----------------------------------------------------------------------------------------
# Modules (PyTorch style; structure as PaddleClas's pp_lcnet.py, pp_lcnet_v2.py, mobilenet_v3.py)
# ----------------------------------------------------------------------------------------


def make_divisible(v, divisor=8, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) + BatchNorm2d (+ activation)."""

    def __init__(self, cin, cout, k, stride=1, groups=1, act=None):
        layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class PaddleHardsigmoid(nn.Module):
    """Paddle's hardsigmoid(slope=0.2, offset=0.5) (MobileNetV3's SE gate) in torch arithmetic:
    clamp(x + 2.5, 0, 5) / 5."""

    def forward(self, x):
        return torch.clamp(x + 2.5, 0.0, 5.0) / 5.0


class SqueezeExcite(nn.Module):
    def __init__(self, c, mid, gate):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = nn.Conv2d(c, mid, 1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(mid, c, 1)
        self.gate = gate()

    def forward(self, x):
        s = self.gate(self.conv2(self.relu(self.conv1(self.avg_pool(x)))))
        return x * s


class Head(nn.Module):
    """avg pool, 1x1 conv (no bias), activation, Paddle's `Dropout(mode="downscale_in_infer")`
    (a multiplication by 1 - p at inference), flatten, linear."""

    def __init__(self, cin, expand, classes, act, dropout=0.2):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.last_conv = nn.Conv2d(cin, expand, 1, bias=False)
        self.act = act()
        self.keep = 1.0 - dropout
        self.fc = nn.Linear(expand, classes)

    def forward(self, x):
        x = self.act(self.last_conv(self.avg_pool(x)))
        x = x * self.keep
        return self.fc(torch.flatten(x, 1))


class DepthwiseSeparable(nn.Module):
    """PP-LCNet V1 block: depthwise conv-BN-hardswish, optional SE (hard-sigmoid gate),
    pointwise conv-BN-hardswish."""

    def __init__(self, cin, cout, k, stride, use_se):
        super().__init__()
        self.dw = ConvBNAct(cin, cin, k, stride, groups=cin, act=nn.Hardswish)
        self.se = SqueezeExcite(cin, cin // 4, nn.Hardsigmoid) if use_se else nn.Identity()
        self.pw = ConvBNAct(cin, cout, 1, act=nn.Hardswish)

    def forward(self, x):
        return self.pw(self.se(self.dw(x)))


V1_CONFIG = [  # k, in, out, stride, se (PaddleClas pp_lcnet.py NET_CONFIG, blocks2..blocks6)
    [3, 16, 32, 1, False],
    [3, 32, 64, 2, False], [3, 64, 64, 1, False],
    [3, 64, 128, 2, False], [3, 128, 128, 1, False],
    [3, 128, 256, 2, False]] + [[5, 256, 256, 1, False]] * 5 + [
    [5, 256, 512, 2, True], [5, 512, 512, 1, True]]


class PPLCNet(nn.Module):
    def __init__(self, scale=0.25, classes=10, class_expand=256):
        super().__init__()
        md = make_divisible
        self.stem = ConvBNAct(3, md(16 * scale), 3, 2, act=nn.Hardswish)
        self.blocks = nn.Sequential(*[DepthwiseSeparable(md(i * scale), md(o * scale), k, s, se)
                                      for k, i, o, s, se in V1_CONFIG])
        self.head = Head(md(512 * scale), class_expand, classes, nn.Hardswish)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


class RepDepthwiseSeparable(nn.Module):
    """PP-LCNetV2 block, unfused (training) form: parallel depthwise conv-BN branches of kernel
    dw_size, dw_size - 2, ..., 1 (no 1x1 when strided) summed, ReLU, optional SE (sigmoid),
    one or two pointwise conv-BN-ReLU, optional residual."""

    def __init__(self, cin, cout, stride, dw_size=3, split_pw=False, use_rep=False,
                 use_se=False, use_shortcut=False):
        super().__init__()
        self.use_rep = use_rep
        self.use_shortcut = use_shortcut and stride == 1 and cin == cout
        if use_rep:
            self.dw_branches = nn.ModuleList(
                ConvBNAct(cin, cin, k, stride, groups=cin)
                for k in range(dw_size, 0, -2) if not (k == 1 and stride != 1))
            self.act = nn.ReLU()
        else:
            self.dw_conv = ConvBNAct(cin, cin, dw_size, stride, groups=cin, act=nn.ReLU)
        self.se = SqueezeExcite(cin, cin // 4, nn.Sigmoid) if use_se else nn.Identity()
        if split_pw:
            mid = int(cout * 0.5)
            self.pw = nn.Sequential(ConvBNAct(cin, mid, 1, act=nn.ReLU),
                                    ConvBNAct(mid, cout, 1, act=nn.ReLU))
        else:
            self.pw = ConvBNAct(cin, cout, 1, act=nn.ReLU)

    def forward(self, x):
        identity = x
        if self.use_rep:
            y = self.dw_branches[0](x)
            for branch in self.dw_branches[1:]:
                y = y + branch(x)
            x = self.act(y)
        else:
            x = self.dw_conv(x)
        x = self.pw(self.se(x))
        if self.use_shortcut:
            x = x + identity
        return x


V2_CONFIG = [  # in, kernel, split_pw, use_rep, use_se, use_shortcut (pp_lcnet_v2.py NET_CONFIG)
    [64, 3, False, False, False, False],
    [128, 3, False, False, False, False],
    [256, 5, True, True, True, False],
    [512, 5, False, True, False, True],
]


class PPLCNetV2(nn.Module):
    def __init__(self, scale=0.25, depths=(1, 1, 2, 1), classes=10, class_expand=256):
        super().__init__()
        md = make_divisible
        self.stem = nn.Sequential(
            ConvBNAct(3, md(32 * scale), 3, 2, act=nn.ReLU),
            RepDepthwiseSeparable(md(32 * scale), md(64 * scale), 1, 3))
        stages = []
        for (cin, k, split_pw, use_rep, use_se, use_shortcut), depth in zip(V2_CONFIG, depths):
            blocks = [RepDepthwiseSeparable(md(cin * scale if i == 0 else cin * 2 * scale),
                                            md(cin * 2 * scale), 2 if i == 0 else 1, k,
                                            split_pw, use_rep, use_se, use_shortcut)
                      for i in range(depth)]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = Head(md(V2_CONFIG[-1][0] * 2 * scale), class_expand, classes, nn.ReLU)

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


class InvertedResidual(nn.Module):
    """MobileNetV3 block: 1x1 expand conv-BN-act, depthwise conv-BN-act, optional SE
    (Paddle's hardsigmoid(0.2, 0.5) gate), 1x1 linear conv-BN, residual when shapes allow."""

    def __init__(self, cin, mid, cout, k, stride, use_se, act):
        super().__init__()
        self.use_shortcut = stride == 1 and cin == cout
        self.expand = ConvBNAct(cin, mid, 1, act=act)
        self.dw = ConvBNAct(mid, mid, k, stride, groups=mid, act=act)
        self.se = SqueezeExcite(mid, mid // 4, PaddleHardsigmoid) if use_se else nn.Identity()
        self.linear = ConvBNAct(mid, cout, 1)

    def forward(self, x):
        y = self.linear(self.se(self.dw(self.expand(x))))
        return x + y if self.use_shortcut else y


MV3_LARGE = [  # k, exp, c, se, act, s (PaddleClas mobilenet_v3.py NET_CONFIG["large"])
    [3, 16, 16, False, "relu", 1],
    [3, 64, 24, False, "relu", 2],
    [3, 72, 24, False, "relu", 1],
    [5, 72, 40, True, "relu", 2],
    [5, 120, 40, True, "relu", 1],
    [5, 120, 40, True, "relu", 1],
    [3, 240, 80, False, "hardswish", 2],
    [3, 200, 80, False, "hardswish", 1],
    [3, 184, 80, False, "hardswish", 1],
    [3, 184, 80, False, "hardswish", 1],
    [3, 480, 112, True, "hardswish", 1],
    [3, 672, 112, True, "hardswish", 1],
    [5, 672, 160, True, "hardswish", 2],
    [5, 960, 160, True, "hardswish", 1],
    [5, 960, 160, True, "hardswish", 1],
]


class MobileNetV3Large(nn.Module):
    def __init__(self, scale=0.35, classes=10, class_expand=256):
        super().__init__()
        md = make_divisible
        acts = {"relu": nn.ReLU, "hardswish": nn.Hardswish}
        self.stem = ConvBNAct(3, md(16 * scale), 3, 2, act=nn.Hardswish)
        blocks, cin = [], md(16 * scale)
        for k, exp, c, se, act, s in MV3_LARGE:
            blocks.append(InvertedResidual(cin, md(scale * exp), md(scale * c), k, s, se,
                                           acts[act]))
            cin = md(scale * c)
        self.blocks = nn.Sequential(*blocks)
        self.last_second_conv = ConvBNAct(cin, md(scale * 960), 1, act=nn.Hardswish)
        self.head = Head(md(scale * 960), class_expand, classes, nn.Hardswish)

    def forward(self, x):
        return self.head(self.last_second_conv(self.blocks(self.stem(x))))


# ----------------------------------------------------------------------------------------
# Weights from a paddle2onnx graph (initializers or Constant nodes), in execution order
# ----------------------------------------------------------------------------------------
def onnx_params(path):
    """[(kind, arrays)] in node order: ("conv", w, b or None), ("bn", gamma, beta, mean, var,
    eps), ("fc", w [out, in], b)."""
    g = onnx.load(path).graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    users = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            users[i].append(n)

    def follow_bias(out, shape_ok):
        u = users[out]
        if len(u) == 1 and u[0].op_type == "Add":
            other = [i for i in u[0].input if i != out]
            if other and other[0] in consts and shape_ok(consts[other[0]]):
                return consts[other[0]].reshape(-1)
        return None

    params = []
    for n in g.node:
        if n.op_type == "Conv":
            w = consts[n.input[1]]
            b = consts[n.input[2]] if len(n.input) > 2 and n.input[2] else follow_bias(
                n.output[0], lambda a: a.shape == (1, w.shape[0], 1, 1))
            params.append(("conv", w, b))
        elif n.op_type == "BatchNormalization":
            eps = next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5)
            params.append(("bn", *(consts[i] for i in n.input[1:5]), eps))
        elif n.op_type == "MatMul" and n.input[1] in consts:
            w = consts[n.input[1]]
            params.append(("fc", w.T, follow_bias(n.output[0], lambda a: a.shape == (w.shape[1],))))
        elif n.op_type == "Gemm":
            a = {x.name: onnx.helper.get_attribute_value(x) for x in n.attribute}
            w = consts[n.input[1]]
            params.append(("fc", w if a.get("transB", 0) else w.T, consts[n.input[2]]))
    return params


def load_params(module, params):
    """Assigns `params` to the module's Conv2d/BatchNorm2d/Linear layers in registration order
    (= execution order here), checking every shape and that every parameter is used."""
    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]
    if len(layers) != len(params):
        raise SystemExit(f"{type(module).__name__}: {len(layers)} layers, graph has {len(params)}")
    T = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731
    for i, (m, p) in enumerate(zip(layers, params)):
        kind = {nn.Conv2d: "conv", nn.BatchNorm2d: "bn", nn.Linear: "fc"}[type(m)]
        if kind != p[0]:
            raise SystemExit(f"layer {i}: module {kind}, graph {p[0]}")
        with torch.no_grad():
            if kind in ("conv", "fc"):
                if tuple(m.weight.shape) != p[1].shape:
                    raise SystemExit(f"layer {i} ({m}): weight {tuple(m.weight.shape)} vs "
                                     f"{p[1].shape}")
                m.weight.copy_(T(p[1]))
                if (m.bias is None) != (p[2] is None):
                    raise SystemExit(f"layer {i} ({m}): bias presence differs")
                if m.bias is not None:
                    m.bias.copy_(T(p[2]))
            else:
                if m.num_features != p[1].shape[0]:
                    raise SystemExit(f"layer {i} ({m}): {p[1].shape[0]} channels in the graph")
                m.weight.copy_(T(p[1]))
                m.bias.copy_(T(p[2]))
                m.running_mean.copy_(T(p[3]))
                m.running_var.copy_(T(p[4]))
                m.eps = float(p[5])
    return module.eval()


# ----------------------------------------------------------------------------------------
# Models and exporters
# ----------------------------------------------------------------------------------------
NETS = {
    # name: (module factory, paddle2onnx source graph it reproduces)
    "pplcnet_x0_25_c10": (lambda: PPLCNet(0.25, 10, 256), "pplcnet_x0_25_c10_logits"),
    "pplcnetv2_tiny_unfused": (lambda: PPLCNetV2(0.25, (1, 1, 2, 1), 10, 256),
                               "pplcnetv2_tiny_opset13_unfused_logits"),
    "mobilenetv3_large_x0_35_c10": (lambda: MobileNetV3Large(0.35, 10, 256),
                                    "mobilenetv3_large_x0_35_c10_torchstyle_logits"),
}
EXPORTERS = {
    # suffix: torch.onnx.export keyword arguments
    "torchscript_opset13": dict(dynamo=False, opset_version=13),
    "torchscript_opset9": dict(dynamo=False, opset_version=9),
    "dynamo": dict(dynamo=True),
}
MODELS = [(f"{net}_torch_{exp}_logits", net, exp) for net in NETS for exp in EXPORTERS]


def run_ort(path, xs):
    sess = ort_session(path)
    name = sess.get_inputs()[0].name
    return [sess.run(None, {name: x})[0][0].astype(np.float32) for x in xs]


def export(module, x, path, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kwargs["dynamo"]:
            prog = torch.onnx.export(module, (x,), dynamo=True, input_names=["input"],
                                     output_names=["output"], verbose=False)
            prog.save(path)
            # The dynamo exporter records per-node debug metadata (stack traces with this script's
            # absolute path and line numbers, FX node dumps): drop it so the file depends only on
            # the model, not on where or at which line the script ran. No effect on the graph.
            stripped = onnx.load(path)
            for node in stripped.graph.node:
                del node.metadata_props[:]
            onnx.save(stripped, path)
        else:
            torch.onnx.export(module, (x,), path, input_names=["input"], output_names=["output"],
                              **kwargs)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    only = set(a for a in sys.argv[1:] if not a.startswith("-"))
    unknown = only - {s for s, _, _ in MODELS}
    if unknown:
        raise SystemExit(f"unknown stems: {sorted(unknown)}")
    P = lambda p: os.path.join(ROOT, p)  # noqa: E731
    xs = [normalize(np.fromfile(P(f"tests/data/inputs/{n}.u8"), np.uint8).reshape(224, 224, 3))
          for n in INPUTS]
    man_path = P("tests/data/reference/torch_manifest.json")
    manifest = load_manifest(man_path, keep=bool(only))
    manifest["generator"] = "tools/export_torch.py"
    manifest["versions"] = dict(torch=torch.__version__, onnx=onnx.__version__,
                                onnxruntime=ort.__version__, numpy=np.__version__)
    try:
        import onnxscript
        manifest["versions"]["onnxscript"] = onnxscript.__version__
    except ImportError:
        pass
    manifest["reference_runtime"] = "onnxruntime CPU, ORT_DISABLE_ALL, 1 thread"
    models = manifest.setdefault("models", collections.OrderedDict())
    nets = {}
    for stem, net, exp in MODELS:
        if only and stem not in only:
            continue
        if net not in nets:
            factory, source = NETS[net]
            src = P(f"tests/data/models/{source}.onnx")
            torch.manual_seed(0)
            module = load_params(factory(), onnx_params(src))
            with torch.no_grad():
                ty = [module(torch.from_numpy(x)).numpy()[0] for x in xs]
            ref = run_ort(src, xs)
            d = maxdiff(ty, ref)
            log(f"{net}: torch vs onnxruntime on {source}.onnx: max |diff| {d:.2e}")
            if not d <= TOL:
                raise SystemExit(f"{net}: the torch module does not reproduce {source}.onnx "
                                 f"(max |diff| {d:.3e} > {TOL})")
            nets[net] = (module, source, ty, ref, d)
        module, source, ty, ref, d_src = nets[net]
        path = P(f"tests/data/models/{stem}.onnx")
        t0 = time.time()
        model = export(module, torch.from_numpy(xs[0]), path, EXPORTERS[exp])
        took = time.time() - t0
        ox = run_ort(path, xs)
        d_torch, d_ref = maxdiff(ox, ty), maxdiff(ox, ref)
        if not (d_torch <= TOL and d_ref <= TOL):
            raise SystemExit(f"{stem}: onnxruntime on the export vs torch {d_torch:.3e}, vs the "
                             f"source graph {d_ref:.3e} (> {TOL})")
        for name, out in zip(INPUTS, ox):
            o = P(f"tests/data/reference/{stem}/{name}.f32")
            os.makedirs(os.path.dirname(o), exist_ok=True)
            np.asarray(out, dtype="<f4").tofile(o)
        ops = collections.Counter(n.op_type for n in model.graph.node)
        e = collections.OrderedDict()
        e["file"] = f"tests/data/models/{stem}.onnx"
        e["sha256"] = sha256(path)
        e["bytes"] = os.path.getsize(path)
        e["module"] = type(module).__name__
        e["weights_from"] = f"tests/data/models/{source}.onnx"
        e["exporter"] = ("torch.onnx.export(dynamo=True)" if EXPORTERS[exp]["dynamo"] else
                         f"torch.onnx.export(dynamo=False, opset_version="
                         f"{EXPORTERS[exp]['opset_version']})")
        e["opset"] = {o.domain or "ai.onnx": o.version for o in model.opset_import}
        e["producer"] = f"{model.producer_name} {model.producer_version}"
        e["input"] = model.graph.input[0].name
        e["output"] = model.graph.output[0].name
        e["op_counts"] = dict(sorted(ops.items()))
        e["num_initializers"] = len(model.graph.initializer)
        e["spreads"] = collections.OrderedDict([
            ("torch_vs_ort_on_source_graph", d_src),
            ("ort_vs_torch", d_torch),
            ("ort_vs_ort_on_source_graph", d_ref),
        ])
        e["argmax"] = np.stack(ox).argmax(1).tolist()
        models[stem] = e
        log(f"{stem}: {e['bytes']} bytes, {took:.1f} s, opset {e['opset']}, ops {e['op_counts']}; "
            f"vs torch {d_torch:.2e}, vs source {d_ref:.2e}")
    manifest["models"] = collections.OrderedDict((s, models[s]) for s, _, _ in MODELS if s in models)
    with open(man_path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
