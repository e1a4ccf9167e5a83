"""PaddleClas's PP-LCNetV2 architecture code and export wrapper, shared by tools/export_reference.py
(Paddle 3) and tools/export_legacy.py (Paddle 2.6, legacy .pdmodel). Needs only paddle and the
paddleclas wheel (installed with --no-deps)."""

import importlib
import os
import sys
import types

import paddle.nn as nn


def _paddleclas_root():
    import importlib.util
    spec = importlib.util.find_spec("paddleclas")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("paddleclas is not installed (pip install --no-deps paddleclas==2.6.0)")
    return list(spec.submodule_search_locations)[0]


def load_pp_lcnet_v2():
    """Import ppcls/arch/backbone/legendary_models/pp_lcnet_v2.py from the wheel (see
    load_legendary)."""
    return load_legendary("pp_lcnet_v2")


def load_legendary(name):
    """Import ppcls/arch/backbone/legendary_models/<name>.py from the wheel (pp_lcnet_v2,
    pp_lcnet, mobilenet_v3, ...); returns (module, wheel root).

    The package __init__ files of ppcls pull in many unrelated dependencies, so register
    empty namespace modules for the packages (their __path__ points at the real folders,
    so the real theseus_layer.py and utils/logger.py are used) and stub the pretrained
    weight loader (it would import the downloader; we never load pretrained weights)."""
    root = _paddleclas_root()
    if "ppcls.utils.save_load" in sys.modules:  # shim already in place
        return importlib.import_module(f"ppcls.arch.backbone.legendary_models.{name}"), root
    for pkg in ("ppcls", "ppcls.utils", "ppcls.arch", "ppcls.arch.backbone",
                "ppcls.arch.backbone.base", "ppcls.arch.backbone.legendary_models"):
        mod = types.ModuleType(pkg)
        mod.__path__ = [os.path.join(root, *pkg.split("."))]
        sys.modules[pkg] = mod
    save_load = types.ModuleType("ppcls.utils.save_load")

    def load_dygraph_pretrain(*args, **kwargs):
        raise RuntimeError("pretrained weights are not available here")

    save_load.load_dygraph_pretrain = load_dygraph_pretrain
    sys.modules["ppcls.utils.save_load"] = save_load
    module = importlib.import_module(f"ppcls.arch.backbone.legendary_models.{name}")
    return module, root


class ExportModel(nn.Layer):
    """PaddleClas ppcls/engine/engine.py ExportModel, reduced to what a classifier uses:
    base model, then nn.Softmax(axis=-1) when infer_add_softmax (the default)."""

    def __init__(self, base_model, add_softmax):
        super().__init__()
        self.base_model = base_model
        self.out_act = nn.Softmax(axis=-1) if add_softmax else None

    def eval(self):
        self.training = False
        for layer in self.sublayers():
            layer.training = False
            layer.eval()

    def forward(self, x):
        x = self.base_model(x)
        if isinstance(x, list):
            x = x[0]
        if self.out_act is not None:
            if isinstance(x, dict):
                x = x["logits"]
            x = self.out_act(x)
        return x


def re_parameterize(net):
    """PaddleClas engine.export(): re-parameterize every layer that supports it (fuses the rep
    branches into one depthwise conv with bias)."""
    for layer in net.sublayers():
        if hasattr(layer, "re_parameterize") and not getattr(layer, "is_repped", False):
            layer.re_parameterize()
