#!/usr/bin/env python3
"""Make tests/data/report/scores.txt: how PaddleClas prints model scores.

For each float32 score s, deploy/python/postprocess.py's Topk keeps np.around(float(s), 5)
and predict_cls.py prints "{:.2f}".format(that). Each line is
    <f32 bits, hex> <np.around(float(s), 5) as repr> <"{:.2f}" of it>
The values cluster around the ties of both roundings (x.xx5, x.xxxxx5), where a different rounding
rule shows. Plain CPython + numpy; any version of either behaves the same here.
"""
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "report", "scores.txt")


def main():
    rng = np.random.default_rng(5)
    vals = set()
    for k in range(0, 201):  # around k/200 (ties of .2f) and a few 1e-5 steps away
        for d in (-2e-5, -1e-5, -5e-6, 0.0, 5e-6, 1e-5, 2e-5):
            base = np.float32(k / 200 + d)
            for ulps in (-1, 0, 1):
                v = base
                for _ in range(abs(ulps)):
                    v = np.nextafter(v, np.float32(np.inf if ulps > 0 else -np.inf), dtype=np.float32)
                if 0 <= v <= 1:
                    vals.add(float(v))
    vals.update(float(np.float32(x)) for x in rng.random(800))
    vals.update(float(np.float32(x)) for x in 10.0 ** rng.uniform(-9, 0, 300))
    lines = []
    for v in sorted(vals):
        bits = struct.unpack("<I", struct.pack("<f", v))[0]
        r = np.around([v], decimals=5).tolist()[0]
        lines.append("%08x %r %s" % (bits, r, "{:.2f}".format(r)))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases to %s" % (len(lines), OUT))


if __name__ == "__main__":
    main()
