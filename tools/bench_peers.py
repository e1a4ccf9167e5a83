#!/usr/bin/env python3
"""Latency of pplcnet's `classify` next to onnxruntime and OpenVINO on the same ONNX model, one run.

    cargo build --release && .venv/bin/python tools/bench_peers.py [--runs 300] [--rounds 2]
    (bf16: PPLCNET_PRECISION=bf16 cargo build --release, copy target/release/pplcnet elsewhere,
    rebuild without it, then add --bf16 --bf16-binary <copy>)

Every engine runs `--runs` timed inferences (after warm-up) per round, at 1 and 2 threads, and the
engines are interleaved round by round so machine noise hits them alike. Prints a Markdown table of
medians with each engine's ratio to pplcnet (the peer's latency divided by ours: > 1 means we are
faster), then the same for each round's fastest run (on a shared host the least disturbed figure);
OpenVINO's default (bf16) precision is compared with pplcnet's bf16 build when both run. The ONNX model is the one the binary embeds (`pplcnet info` names it) unless --model is given.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def embedded_model(binary):
    """The ONNX file the binary embeds: `pplcnet info` names it (file name only), looked up in
    model_assets/ and tests/data/models/."""
    out = subprocess.run([binary, "info"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("source:"):
            name = line.split(":", 1)[1].strip()
            for d in ("model_assets", os.path.join("tests", "data", "models")):
                path = os.path.join(ROOT, d, name)
                if os.path.isfile(path):
                    return path
            raise SystemExit(f"the binary embeds {name!r}, not found in model_assets/ or tests/data/models/: pass --model")
    raise SystemExit("pplcnet info did not name the source model")


def time_runs(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    lat = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t) * 1e3)
    return statistics.median(lat), min(lat)


def onnxruntime_engine(model, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    return lambda: sess.run(None, {name: x}), f"onnxruntime {ort.__version__} (ORT_ENABLE_ALL)"


def openvino_engine(model, threads, precision):
    import openvino as ov

    core = ov.Core()
    cfg = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    if precision:
        cfg["INFERENCE_PRECISION_HINT"] = precision
    compiled = core.compile_model(core.read_model(model), "CPU", cfg)
    req = compiled.create_infer_request()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    label = f"OpenVINO {ov.get_version().split('-')[0]} ({precision or 'default precision'})"
    return lambda: req.infer({0: x}), label


def pplcnet_engine(binary, threads, runs, warmup):
    """Latency from `pplcnet bench --json` (1 thread; --parallel N when available)."""

    def run():
        cmd = [binary, "bench", "--json", "--iters", str(runs), "--warmup", str(warmup), "--threads", "1"]
        if threads > 1:
            cmd += ["--parallel", str(threads)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        lat = json.loads(out)["latency_ms"]
        return lat["median"], lat["min"]

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "pplcnet"))
    ap.add_argument("--model", help="ONNX model for the peers (default: the one the binary embeds)")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--bf16", action="store_true", help="also OpenVINO at its default (bf16) precision")
    ap.add_argument("--bf16-binary", help="also a pplcnet binary built with PPLCNET_PRECISION=bf16 (same model)")
    args = ap.parse_args()

    model = args.model or embedded_model(args.binary)
    threads = [int(t) for t in args.threads.split(",")]
    help_text = subprocess.run([args.binary, "bench", "--help"], capture_output=True, text=True).stdout
    has_parallel = "--parallel" in help_text

    results = {}  # (engine label, threads) -> [(median, min)]
    for rnd in range(args.rounds):
        for t in threads:
            engines = []
            if t == 1 or has_parallel:
                engines.append(("pplcnet", pplcnet_engine(args.binary, t, args.runs, args.warmup)))
            if args.bf16_binary and (t == 1 or has_parallel):
                engines.append(("pplcnet bf16", pplcnet_engine(args.bf16_binary, t, args.runs, args.warmup)))
            fn, label = onnxruntime_engine(model, t)
            engines.append((label, lambda fn=fn: time_runs(fn, args.runs, args.warmup)))
            fn, label = openvino_engine(model, t, "f32")
            engines.append((label, lambda fn=fn: time_runs(fn, args.runs, args.warmup)))
            if args.bf16:
                fn, label = openvino_engine(model, t, None)
                engines.append((label, lambda fn=fn: time_runs(fn, args.runs, args.warmup)))
            for label, run in engines:
                med, best = run()
                results.setdefault((label, t), []).append((med, best))
                print(f"round {rnd + 1}, {t} thread(s): {label}: {med:.3f} ms (fastest {best:.3f})", file=sys.stderr)

    labels = list(dict.fromkeys(k[0] for k in results))
    print(f"model: `{os.path.relpath(model, ROOT)}`, {args.runs} runs x {args.rounds} rounds, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    table(results, labels, threads, 0, "median ms")
    print("\nThe fastest run of each round, same rounds:\n")
    table(results, labels, threads, 1, "fastest ms")


def table(results, labels, threads, which, what):
    """One Markdown table of statistic `which` (0: median, 1: fastest run) per engine and threads:
    its range over the rounds and the best round's ratio to pplcnet's best round."""
    head = "| engine | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}: {what} (vs pplcnet)" for t in threads) + " |"
    print(head)
    print("|---" * (len(threads) + 1) + "|")
    for label in labels:
        cells = []
        for t in threads:
            meds = [r[which] for r in results.get((label, t), [])]
            # bf16 engines (OpenVINO's default precision here) against pplcnet's bf16 build if run.
            base = "pplcnet bf16" if "default precision" in label and ("pplcnet bf16", t) in results else "pplcnet"
            ours = [r[which] for r in results.get((base, t), [])]
            if not meds:
                cells.append("n/a")
                continue
            m = min(meds)
            spread = f"{min(meds):.2f}-{max(meds):.2f}" if len(meds) > 1 else f"{m:.2f}"
            ratio = f" ({m / min(ours):.2f}x{' vs bf16' if base != 'pplcnet' else ''})" if ours and label != base else ""
            cells.append(spread + ratio)
        print(f"| {label} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
