#!/usr/bin/env python3
"""Legacy-format (inference.pdmodel + inference.pdiparams) export with Paddle 2.6.

Run by tools/export_reference.py as a subprocess under tools/.venv-paddle2 (Paddle 3.3.1 cannot
write the legacy format for this model); not meant to be run by hand.

    tools/.venv-paddle2/bin/python tools/export_legacy.py JOB.json

JOB.json: {"inputs": "<npz with x0, x1, ... float32 [1,3,224,224]>", "result": "<npz to write>",
           "models": [{"name", "kwargs", "softmax", "state": "<npz of the FUSED state dict>",
                       "out_dir"}]}

For each model: build PPLCNetV2(**kwargs) with PaddleClas's code, re_parameterize() it (so its
structure is the fused one), load the fused state dict computed by Paddle 3 (so the weights are
bit-identical to the Paddle 3 / ONNX exports), wrap it like PaddleClas's export (ExportModel,
softmax) and paddle.jit.save it (Paddle 2.6 writes the legacy ProgramDesc). Then record Paddle
2.6's own outputs: Paddle Inference (CPU, IR optimizations and MKLDNN off, 1 thread) and dygraph.
"""

import json
import os
import sys

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
os.environ.setdefault("GLOG_minloglevel", "2")

import warnings  # noqa: E402

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import paddle  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ppcls_arch import ExportModel, load_pp_lcnet_v2, re_parameterize  # noqa: E402

H = W = 224


def export(spec, ppl):
    net = ppl.PPLCNetV2(**spec["kwargs"])
    re_parameterize(net)
    state = dict(np.load(spec["state"]))
    own = net.state_dict()
    if sorted(own) != sorted(state):
        raise SystemExit(f"{spec['name']}: fused state keys differ: "
                         f"{sorted(set(own) ^ set(state))[:10]}")
    for k, v in own.items():
        if list(v.shape) != list(state[k].shape):
            raise SystemExit(f"{spec['name']}: {k} has shape {list(v.shape)}, state {state[k].shape}")
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    for k, v in net.state_dict().items():
        if not np.array_equal(v.numpy(), state[k]):
            raise SystemExit(f"{spec['name']}: {k} did not load exactly")
    model = ExportModel(net, spec["softmax"])
    model.eval()
    static = paddle.jit.to_static(
        model, input_spec=[paddle.static.InputSpec(shape=[None, 3, H, W], dtype="float32", name="x")])
    os.makedirs(spec["out_dir"], exist_ok=True)
    paddle.jit.save(static, os.path.join(spec["out_dir"], "inference"))
    for f in ("inference.pdmodel", "inference.pdiparams"):
        if not os.path.exists(os.path.join(spec["out_dir"], f)):
            raise SystemExit(f"paddle.jit.save did not write {f}")
    return model


def run_inference(out_dir, xs):
    from paddle import inference
    cfg = inference.Config(os.path.join(out_dir, "inference.pdmodel"),
                           os.path.join(out_dir, "inference.pdiparams"))
    cfg.disable_gpu()
    cfg.disable_mkldnn()
    cfg.switch_ir_optim(False)
    cfg.set_cpu_math_library_num_threads(1)
    cfg.disable_glog_info()
    pred = inference.create_predictor(cfg)
    h = pred.get_input_handle(pred.get_input_names()[0])
    outs = []
    for x in xs:
        h.reshape(x.shape)
        h.copy_from_cpu(x)
        pred.run()
        outs.append(pred.get_output_handle(pred.get_output_names()[0]).copy_to_cpu()[0].astype(np.float32))
    return np.stack(outs)


def main():
    job = json.load(open(sys.argv[1]))
    paddle.set_device("cpu")
    paddle.seed(0)
    ppl, _ = load_pp_lcnet_v2()
    inputs = np.load(job["inputs"])
    xs = [inputs[f"x{i}"] for i in range(len(inputs.files))]
    result = {"paddle_version": np.array(paddle.__version__)}
    for spec in job["models"]:
        model = export(spec, ppl)
        with paddle.no_grad():
            result[f"{spec['name']}/dygraph"] = np.stack(
                [model(paddle.to_tensor(x)).numpy()[0].astype(np.float32) for x in xs])
        result[f"{spec['name']}/inference"] = run_inference(spec["out_dir"], xs)
        print(f"legacy export of {spec['name']} with paddle {paddle.__version__}: {spec['out_dir']}",
              flush=True)
    np.savez(job["result"], **result)


if __name__ == "__main__":
    main()
