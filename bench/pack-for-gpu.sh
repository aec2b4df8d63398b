#!/usr/bin/env bash
# Packs our bench for a GPU machine that has Python torch but no dotnet: a self-contained publish built to load an
# external libtorch (-p:Blip2Backend=none), as .devcarry/bench.tar.xz (about 40 MB). On the GPU machine, the whole
# issue-15 session (CUDA-graph shim built and checked, ours eager and with graphs, the reference): bench/gpu-session.sh.
# Or by hand:
#
#   mkdir -p /tmp/ours && tar -xJf .devcarry/bench.tar.xz -C /tmp/ours
#   OURS_BIN=/tmp/ours/Blip2Compiler.Bench WARMUP=5 ITERATIONS=10 bench/run-gpu.sh opt-2.7b float16
#   OURS_BIN=/tmp/ours/Blip2Compiler.Bench WARMUP=2 ITERATIONS=3 bench/run-gpu.sh flan-t5-xl bfloat16
#   BLIP2_LIBTORCH=<site-packages>/torch/lib /tmp/ours/Blip2Compiler.Bench op-overhead --device cuda
#
# run-gpu.sh points the runtime at that Python's torch/lib and runs ours and the reference benchmark by benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mktemp -d)
dotnet publish bench/Blip2Compiler.Bench -c Release -r linux-x64 --self-contained -p:Blip2Backend=none -o "$OUT" >/dev/null
mkdir -p .devcarry
tar -C "$OUT" -cJf .devcarry/bench.tar.xz .
rm -rf "$OUT"
ls -l .devcarry/bench.tar.xz
