#!/usr/bin/env bash
# Everything issue 18 asks to measure on an Intel Xeon with AMX, in one command, for the rare
# sessions that get such a machine: CPU and flags, the AMX hardware tests (hardware against the
# scalar emulation), the bf16 and f32 builds against onnxruntime and OpenVINO (default precision =
# bf16 on AMX) in one interleaved run, the bf16 error next to OpenVINO's, and per-layer times.
# Every output is kept in target/amx-session/ (summary.md first) for BENCHMARKS.md and the issue.
#
#   tools/amx_session.sh            # the full run (about 10 minutes after the builds)
#   tools/amx_session.sh --quick    # a short check of the script itself (any machine)
#
# On a CPU without AMX it still runs: the AMX tests say "skipped: no AMX ..." and the bf16 build
# runs its FMA fallback, which the summary says at the top.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=300 rounds=3 iters=300
if [ "${1:-}" = "--quick" ]; then runs=20 rounds=1 iters=20; fi
out=target/amx-session
mkdir -p "$out"
summary="$out/summary.md"

flags=$( (grep -o -w -E 'amx_bf16|amx_tile|amx_int8|avx512f|avx512_bf16|avx512_fp16|avx512_vnni' /proc/cpuinfo || true) | sort -u | tr '\n' ' ')
{
    echo "# AMX session $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
    echo
    echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')"
    echo "flags: ${flags:-none of the AVX-512 / AMX ones}"
    case " $flags " in
        *" amx_bf16 "*) echo "AMX: present" ;;
        *) echo "AMX: ABSENT: the bf16 figures below are the FMA fallback, not AMX" ;;
    esac
} | tee "$summary"

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q numpy onnxruntime openvino
fi

cargo build --release
PPLCNET_PRECISION=bf16 PPLCNET_BF16_ISA=amx cargo build --release --target-dir target/bf16
target/bf16/release/pplcnet info > "$out/info-bf16.txt"
{ echo; echo '## What the bf16 binary runs on'; echo; echo '```'; grep -i -E 'amx|precision' "$out/info-bf16.txt" | head -5; echo '```'; } | tee -a "$summary"

# Hardware against emulation (the tests print the measured difference, or why they skipped).
cargo test --release -p pplcnet-testmodels --test amx -- --nocapture > "$out/test-amx-models.txt" 2>&1
cargo test --release -p pplcnet --lib amx -- --nocapture > "$out/test-amx-kernels.txt" 2>&1
{
    echo; echo '## AMX tests'; echo; echo '```'
    grep -h -E 'test result|skipped|hardware|max \|' "$out/test-amx-models.txt" "$out/test-amx-kernels.txt" | head -40
    echo '```'
} | tee -a "$summary"

# Peers, interleaved round by round.
.venv/bin/python tools/bench_peers.py --runs "$runs" --rounds "$rounds" --bf16 \
    --bf16-binary target/bf16/release/pplcnet > "$out/peers.md"
{ echo; echo "## Peers (bench_peers.py --runs $runs --rounds $rounds --bf16)"; echo; cat "$out/peers.md"; } | tee -a "$summary"

# bf16 error: OpenVINO's default against onnxruntime f32, and pplcnet's (the amx test prints it).
.venv/bin/python tools/bf16_error.py > "$out/bf16-error-openvino.txt" 2>&1
{ echo; echo '## bf16 error (OpenVINO default vs onnxruntime f32)'; echo; echo '```'; cat "$out/bf16-error-openvino.txt"; echo '```'; } | tee -a "$summary"

# Where the time goes, per layer, both builds.
target/bf16/release/pplcnet bench --layers --iters "$iters" > "$out/layers-bf16.txt" 2>&1
target/release/pplcnet bench --layers --iters "$iters" > "$out/layers-f32.txt" 2>&1
{
    echo; echo '## Per kernel (bf16 build, then f32)'; echo; echo '```'
    sed -n '/^per kernel:/,$p' "$out/layers-bf16.txt"; sed -n '/^per kernel:/,$p' "$out/layers-f32.txt"
    echo '```'
} | tee -a "$summary"
echo "all outputs: $out/"
