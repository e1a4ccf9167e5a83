#!/usr/bin/env python3
"""Drives pplcnet-server with Triton's own Python clients (tritonclient.http and .grpc).

Run by server/tests/triton_client.rs, which starts the server and writes DATA_DIR:
  meta.json            {"model": ..., "height": H, "width": W, "classes": C, "output": name,
                        "max_batch": B, "max_body_bytes": L}
  labels.txt           the model's labels, one per line
  raw.u8               N raw inputs, N*H*W*3 bytes;  raw.expected.f32: classify() of each, N*C f32
  image_<i>.<ext>      encoded images;  encoded.expected.f32: their classify() after preprocessing
  bomb.png             a small PNG declaring a huge size
Every check compares exact values (the f32 bits), or the protocol's error form and status.

With --busy-http/--busy-grpc (a second server with one worker and one queue slot) it also checks
that a full queue answers 503 / UNAVAILABLE at once; with --late-grpc (a server with
--deadline-ms 1) that gRPC inference past the deadline answers DEADLINE_EXCEEDED.

Usage: .venv-triton/bin/python tools/triton_client_check.py --http HOST:PORT --grpc HOST:PORT \
           [--busy-http HOST:PORT --busy-grpc HOST:PORT] [--late-grpc HOST:PORT] DATA_DIR
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

CHECKS = []


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    CHECKS.append(what)


def load(data):
    meta = json.load(open(os.path.join(data, "meta.json")))
    h, w, c = meta["height"], meta["width"], meta["classes"]
    raw = np.fromfile(os.path.join(data, "raw.u8"), dtype=np.uint8).reshape(-1, h, w, 3)
    raw_expected = np.fromfile(os.path.join(data, "raw.expected.f32"), dtype="<f4").reshape(-1, c)
    images = []
    for name in sorted(os.listdir(data)):
        if name.startswith("image_"):
            images.append(open(os.path.join(data, name), "rb").read())
    enc_expected = np.fromfile(os.path.join(data, "encoded.expected.f32"), dtype="<f4").reshape(-1, c)
    labels = open(os.path.join(data, "labels.txt"), encoding="utf-8").read().split("\n")[:c]
    bomb = open(os.path.join(data, "bomb.png"), "rb").read()
    return meta, raw, raw_expected, images, enc_expected, labels, bomb


def same_bits(a, b):
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def expect_error(client_mod, fn, status, text, what):
    try:
        fn()
    except InferenceServerException as e:
        check(e.status() == status, f"{what}: status {e.status()!r}, want {status!r} ({e.message()})")
        check(text.lower() in (e.message() or "").lower(), f"{what}: message {e.message()!r} lacks {text!r}")
        return
    raise AssertionError(f"{what}: no error")


def classification_ok(strings, expected, labels, k):
    """strings: [N, k] of b'score:index:label'; expected: [N, C] scores."""
    for row, scores in zip(strings, expected):
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
        for s, want in zip(row, order):
            s = s.decode() if isinstance(s, bytes) else s
            score, index, label = s.split(":", 2)
            if int(index) != want or label != labels[want] or score != f"{scores[want]:.6f}":
                return False
    return True


def run(mod, url, meta, raw, raw_expected, images, enc_expected, labels, bomb, proto):
    model = meta["model"]
    out_name = meta["output"]
    client = mod.InferenceServerClient(url=url)
    check(client.is_server_live(), f"{proto}: live")
    check(client.is_server_ready(), f"{proto}: ready")
    check(client.is_model_ready(model), f"{proto}: model ready")
    md = client.get_model_metadata(model)
    if proto == "grpc":
        md = {
            "name": md.name,
            "inputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in md.inputs],
            "outputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in md.outputs],
        }
    check(md["name"] == model, f"{proto}: metadata name")
    check(md["inputs"][0] == {"name": "image", "datatype": "UINT8", "shape": [-1, meta["height"], meta["width"], 3]},
          f"{proto}: metadata input {md['inputs']}")
    check(md["outputs"][0] == {"name": out_name, "datatype": "FP32", "shape": [-1, meta["classes"]]},
          f"{proto}: metadata output {md['outputs']}")

    def raw_input(arr, dt="UINT8", binary=True):
        i = mod.InferInput("image", list(arr.shape), dt)
        if proto == "http":
            i.set_data_from_numpy(arr, binary_data=binary)
        else:
            i.set_data_from_numpy(arr)
        return i

    def output(binary=True, k=0):
        if proto == "http":
            return mod.InferRequestedOutput(out_name, binary_data=binary, class_count=k)
        return mod.InferRequestedOutput(out_name, class_count=k)

    # Raw RGB inputs, batch of N: bit for bit what classify() gives.
    r = client.infer(model, [raw_input(raw)], outputs=[output()])
    check(same_bits(r.as_numpy(out_name), raw_expected), f"{proto}: raw batch matches classify bit for bit")
    # One image at a time, outputs unnamed (all outputs).
    r = client.infer(model, [raw_input(raw[1:2])])
    check(same_bits(r.as_numpy(out_name), raw_expected[1:2]), f"{proto}: raw single, default outputs")
    if proto == "http":
        # JSON tensors both ways (no binary extension).
        r = client.infer(model, [raw_input(raw, binary=False)], outputs=[output(binary=False)])
        check(same_bits(r.as_numpy(out_name), raw_expected), "http: JSON input and output match bit for bit")
        r = client.infer(model, [raw_input(raw[:1], binary=False)], outputs=[output(binary=True)])
        check(same_bits(r.as_numpy(out_name), raw_expected[:1]), "http: JSON input, binary output")

    # Encoded images (BYTES [N]): decoded and preprocessed like the CLI.
    enc = np.array(images, dtype=np.object_)
    i = mod.InferInput("image", [len(images)], "BYTES")
    i.set_data_from_numpy(enc)
    r = client.infer(model, [i], outputs=[output()])
    check(same_bits(r.as_numpy(out_name), enc_expected), f"{proto}: encoded images match classify bit for bit")

    # Classification extension.
    for k in (1, 5):
        r = client.infer(model, [raw_input(raw)], outputs=[output(k=k)])
        strings = r.as_numpy(out_name)
        check(strings.shape == (raw.shape[0], k), f"{proto}: classification shape {strings.shape}")
        check(classification_ok(strings, raw_expected, labels, k), f"{proto}: classification top-{k} strings")
    r = client.infer(model, [i], outputs=[output(k=3)])
    check(classification_ok(r.as_numpy(out_name), enc_expected, labels, 3), f"{proto}: classification of encoded images")

    # Errors, each in the protocol's form.
    bad = "400" if proto == "http" else "StatusCode.INVALID_ARGUMENT"
    expect_error(mod, lambda: client.infer("nosuchmodel", [raw_input(raw[:1])]),
                 "404" if proto == "http" else "StatusCode.NOT_FOUND", "unknown model", f"{proto}: wrong model name")
    expect_error(mod, lambda: client.get_model_metadata("nosuchmodel"),
                 "404" if proto == "http" else "StatusCode.NOT_FOUND", "unknown model", f"{proto}: metadata of a wrong model")
    small = np.zeros((1, meta["height"] // 2, meta["width"], 3), dtype=np.uint8)
    expect_error(mod, lambda: client.infer(model, [raw_input(small)]), bad, "shape", f"{proto}: wrong shape")
    floats = np.zeros((1, meta["height"], meta["width"], 3), dtype=np.float32)
    expect_error(mod, lambda: client.infer(model, [raw_input(floats, "FP32")]), bad, "data-type", f"{proto}: wrong datatype")
    wrong_input = mod.InferInput("pixels", list(raw[:1].shape), "UINT8")
    wrong_input.set_data_from_numpy(raw[:1])
    expect_error(mod, lambda: client.infer(model, [wrong_input]), bad, "unexpected inference input", f"{proto}: wrong input name")
    expect_error(mod, lambda: client.infer(model, [raw_input(raw[:1])], outputs=[output(k=meta["classes"] + 1)]),
                 bad, "classification count", f"{proto}: classification count over the classes")
    junk = mod.InferInput("image", [1], "BYTES")
    junk.set_data_from_numpy(np.array([b"not an image"], dtype=np.object_))
    expect_error(mod, lambda: client.infer(model, [junk]), bad, "image 0", f"{proto}: undecodable image")
    # Too large: a bomb image (pixel limit, from its header), a batch over the limit, a body over the limit.
    too_large = "413" if proto == "http" else "StatusCode.RESOURCE_EXHAUSTED"
    b = mod.InferInput("image", [1], "BYTES")
    b.set_data_from_numpy(np.array([bomb], dtype=np.object_))
    expect_error(mod, lambda: client.infer(model, [b]), too_large, "pixels", f"{proto}: decompression bomb")
    big_batch = np.zeros((meta["max_batch"] + 1, meta["height"], meta["width"], 3), dtype=np.uint8)
    if big_batch.nbytes < meta["max_body_bytes"]:
        expect_error(mod, lambda: client.infer(model, [raw_input(big_batch)]), too_large, "batch", f"{proto}: batch over the limit")
    n = meta["max_body_bytes"] // raw[0].nbytes + 1
    huge = np.zeros((n, meta["height"], meta["width"], 3), dtype=np.uint8)
    # tonic refuses a message over its limit with OUT_OF_RANGE before the service sees it.
    expect_error(mod, lambda: client.infer(model, [raw_input(huge)]),
                 too_large if proto == "http" else "StatusCode.OUT_OF_RANGE", "", f"{proto}: body over the limit")
    # Still healthy after the errors.
    r = client.infer(model, [raw_input(raw[:1])])
    check(same_bits(r.as_numpy(out_name), raw_expected[:1]), f"{proto}: healthy after the errors")
    client.close()


def queue_full(mod, url, meta, raw, raw_expected, proto):
    """A server with one worker and one queue slot, sent 6 batches at once: at most 2 are taken,
    the rest are refused at once with 503 / UNAVAILABLE; the accepted ones are exact."""
    model, out_name = meta["model"], meta["output"]
    reps = 12 // raw.shape[0] + 1
    batch = np.concatenate([raw] * reps)[:12]
    want = np.concatenate([raw_expected] * reps)[:12]
    i = mod.InferInput("image", list(batch.shape), "UINT8")
    i.set_data_from_numpy(batch)
    results = []
    if proto == "http":
        client = mod.InferenceServerClient(url=url, concurrency=6)
        pending = [client.async_infer(model, [i]) for _ in range(6)]
        for p in pending:
            try:
                results.append((p.get_result(), None))
            except InferenceServerException as e:
                results.append((None, e))
    else:
        import queue
        client = mod.InferenceServerClient(url=url)
        done = queue.Queue()
        for _ in range(6):
            client.async_infer(model, [i], callback=lambda result, error: done.put((result, error)), client_timeout=60)
        results = [done.get(timeout=60) for _ in range(6)]
    unavailable = "503" if proto == "http" else "StatusCode.UNAVAILABLE"
    ok = [r for r, e in results if e is None]
    refused = [e for r, e in results if e is not None]
    check(all(e.status() == unavailable and "queue is full" in e.message() for e in refused),
          f"{proto}: queue full answers {unavailable}: {[(e.status(), e.message()) for e in refused]}")
    check(len(ok) >= 1 and len(refused) >= 3, f"{proto}: queue full: {len(ok)} accepted, {len(refused)} refused")
    check(all(same_bits(r.as_numpy(out_name), want) for r in ok), f"{proto}: accepted requests exact under a full queue")
    client.close()


def deadline_passes(url, meta, raw):
    """A server whose --deadline-ms (1) is shorter than one image's compute: every gRPC inference
    ends in DEADLINE_EXCEEDED naming the deadline, promptly, and the server stays ready (the worker
    drops the late result and takes the next job)."""
    model = meta["model"]
    client = grpcclient.InferenceServerClient(url=url)
    i = grpcclient.InferInput("image", [1] + list(raw.shape[1:]), "UINT8")
    i.set_data_from_numpy(raw[:1])
    for n in range(3):
        start = time.monotonic()
        expect_error(grpcclient, lambda: client.infer(model, [i], client_timeout=30),
                     "StatusCode.DEADLINE_EXCEEDED", "deadline", f"grpc: deadline {n}")
        took = time.monotonic() - start
        check(took < 5, f"grpc: deadline {n} answered after {took:.2f} s")
    check(client.is_server_ready(), "grpc: ready after deadlines passed")
    client.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", required=True)
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--busy-http", help="a server with --workers 1 --queue-depth 1 (REST)")
    ap.add_argument("--busy-grpc", help="the same server's gRPC address")
    ap.add_argument("--late-grpc", help="a server with --deadline-ms 1 (gRPC)")
    ap.add_argument("data")
    a = ap.parse_args()
    loaded = load(a.data)
    run(httpclient, a.http, *loaded, proto="http")
    run(grpcclient, a.grpc, *loaded, proto="grpc")
    meta, raw, raw_expected = loaded[0], loaded[1], loaded[2]
    if a.busy_http:
        queue_full(httpclient, a.busy_http, meta, raw, raw_expected, "http")
    if a.busy_grpc:
        queue_full(grpcclient, a.busy_grpc, meta, raw, raw_expected, "grpc")
    if a.late_grpc:
        deadline_passes(a.late_grpc, meta, raw)
    print(f"ok: {len(CHECKS)} checks passed (tritonclient http and grpc)")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED after {len(CHECKS)} checks: {e}", file=sys.stderr)
        sys.exit(1)
