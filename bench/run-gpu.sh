#!/usr/bin/env bash
# Our bench and the Hugging Face reference on one GPU machine, in one run, then a ratio table.
#
#   bench/run-gpu.sh [CONFIG [DTYPE]]        defaults: opt-2.7b float16 (the issue's setup); e.g. flan-t5-xl bfloat16
#   env: PYTHON (python3), WARMUP (2), ITERATIONS (10), OUT_DIR (bench/out), COMPILE=1 adds the static-cache
#        torch.compile reference caption,
#        BENCHMARKS ("caption decode-token beam caption-batch image-encoding"; one process per word, and a word may
#        join several with commas: caption,decode-token), RETRIEVAL_BENCHMARKS ("itm itc"; empty: none),
#        DECODING_STEPS (empty; e.g. "cuda-graphs static"): our generating benchmarks again with
#        --decoding-step STEP, into ours-STEP.jsonl and table-STEP.md (runs that replayed graphs carry
#        "cuda_graphs": true); the reference runs once
#
# Needs: dotnet (SDK 10), and a Python with a CUDA torch and transformers 5.x. Our runtime loads that torch's own
# libtorch (BLIP2_LIBTORCH=<site-packages>/torch/lib), built with -p:Blip2Backend=none so no packaged libtorch is
# loaded beside it; TorchSharp 0.107 runs on libtorch 2.10.x and 2.11.x, so the Python torch must be one of those
# (checked below: with another version only the reference runs and our column stays empty). Without dotnet on the
# machine, set OURS_BIN to a self-contained publish of the bench (dotnet publish -r linux-x64 --self-contained
# -p:Blip2Backend=none) carried over.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
CONFIG=${1:-opt-2.7b}
DTYPE=${2:-float16}
RETRIEVAL=itm-vit-g
[[ $CONFIG == mid* ]] && RETRIEVAL=mid-itm
OUT=${OUT_DIR:-bench/out}
ARGS=(--device cuda --dtype "$DTYPE" --warmup "${WARMUP:-2}" --iterations "${ITERATIONS:-10}")
mkdir -p "$OUT"
: >"$OUT/ours.jsonl"
: >"$OUT/hf.jsonl"

TORCH_LIB=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') || exit 1
TORCH_VERSION=$("$PY" -c 'import torch; print(torch.__version__)')
"$PY" -c 'import torch; assert torch.cuda.is_available(), "torch sees no GPU"' || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
echo "python torch $TORCH_VERSION at $TORCH_LIB"

OURS=""
if [[ $TORCH_VERSION != 2.10.* && $TORCH_VERSION != 2.11.* ]]; then
  echo "our bench skipped: TorchSharp 0.107 needs libtorch 2.10.x or 2.11.x, this Python has torch $TORCH_VERSION" >&2
elif [[ -n ${OURS_BIN:-} ]]; then
  OURS="$OURS_BIN"
elif command -v dotnet >/dev/null; then
  rm -rf "$OUT/bin"
  if dotnet build bench/Blip2Compiler.Bench -c Release -p:Blip2Backend=none -o "$OUT/bin" >"$OUT/build.log" 2>&1; then
    OURS="dotnet $OUT/bin/Blip2Compiler.Bench.dll"
  else
    echo "our bench skipped: build failed (see $OUT/build.log)" >&2
  fi
else
  echo "our bench skipped: no dotnet on PATH" >&2
fi

run() {  # run BENCHMARK[,BENCHMARK...] CONFIG: ours (each decoding step), then the reference, appending JSON lines
  if [[ -n $OURS ]]; then
    BLIP2_LIBTORCH=$TORCH_LIB $OURS "$1" --config "$2" "${ARGS[@]}" >>"$OUT/ours.jsonl" || echo "ours: $1 failed" >&2
    for step in ${DECODING_STEPS:-}; do
      local generating
      generating=$(tr ',' '\n' <<<"$1" | grep -xE 'caption|decode-token|beam|caption-batch' | paste -sd, -)
      [[ -z $generating ]] && continue
      BLIP2_LIBTORCH=$TORCH_LIB $OURS "$generating" --config "$2" "${ARGS[@]}" --decoding-step "$step" \
        >>"$OUT/ours-$step.jsonl" || echo "ours ($step): $generating failed" >&2
    done
  fi
  "$PY" bench/reference.py "$1" --config "$2" "${ARGS[@]}" >>"$OUT/hf.jsonl" || echo "reference: $1 failed" >&2
}

for step in ${DECODING_STEPS:-}; do : >"$OUT/ours-$step.jsonl"; done
for benchmark in ${BENCHMARKS-caption decode-token beam caption-batch image-encoding}; do run "$benchmark" "$CONFIG"; done
for benchmark in ${RETRIEVAL_BENCHMARKS-itm itc}; do run "$benchmark" "$RETRIEVAL"; done
if [[ ${COMPILE:-0} == 1 ]]; then
  "$PY" bench/reference.py caption-static-compiled --config "$CONFIG" "${ARGS[@]}" >>"$OUT/hf.jsonl" || echo "reference: compiled caption failed" >&2
fi

"$PY" bench/compare.py "$OUT/ours.jsonl" "$OUT/hf.jsonl" | tee "$OUT/table.md"
for step in ${DECODING_STEPS:-}; do
  echo "ours with --decoding-step $step:"
  "$PY" bench/compare.py "$OUT/ours-$step.jsonl" "$OUT/hf.jsonl" | tee "$OUT/table-$step.md"
done
