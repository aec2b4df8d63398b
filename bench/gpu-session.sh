#!/usr/bin/env bash
# One GPU session for issues 15 and 14, prepared on the CPU: on the device machine (Python torch 2.10/2.11 with CUDA,
# its headers and a C++ compiler, transformers 5.x, no dotnet) it builds the CUDA-graph shim, checks it, then runs ours
# (eager, and with the decoding step replayed as CUDA graphs) and the reference (incl. its static-cache compiled
# caption) side by side in one run (issue 15, ~8 minutes); then quantized weights (issue 14, ~4 minutes): libtorch's
# weight-only routes checked and timed per layer shape (quant-kernels), opt-2.7b float16 vs int8 vs int4 (memory,
# ms/token, fidelity: quant-gpu) beside bitsandbytes' int8 and NF4 through transformers (bench/quant_reference.py).
# Everything lands under $OUT. Each stage has a timeout so that a hang costs only its own stage. ISSUE15=0 runs only
# the quantization part, QUANT=0 only issue 15's.
#
#   bench/pack-for-gpu.sh                        # here: .devcarry/bench.tar.xz (~30 MB self-contained publish)
#   bench/gpu-session.sh [--dry-run]             # there, from the repository root (carry .devcarry)
#
# env: OUT (results folder; default bench/out/gpu-session), PYTHON (python3), BENCH_TAR (.devcarry/bench.tar.xz),
#      CONFIG (opt-2.7b), DTYPE (float16), WARMUP (3), ITERATIONS (5), COMPILE (1: the reference's compiled caption),
#      T5=1 also runs the Flan-T5-XL bfloat16 caption (both sides, ours eager and with graphs; ~1.5 min more),
#      ISSUE15 (1), QUANT (1), LOAD (0: issue 18's load to cuda, ~4 minutes; LOAD_DIR for its 15 GB files): which parts run.
# Results: env.txt, stages.tsv (stage, exit status, seconds), shim-build.log, shim-check.jsonl, and per config the
# run-gpu.sh outputs (ours.jsonl, ours-cuda-graphs.jsonl, hf.jsonl, table.md, table-cuda-graphs.md); quant/:
# kernels.jsonl (each route's ms and "exact"), ours.jsonl, hf-bnb.jsonl, table.md.
# --dry-run: checks what can be checked without a GPU (the files, the scripts' syntax, the build script's command
# where a torch is installed, the publish's presence) and prints each stage's command instead of running it.
set -uo pipefail
cd "$(dirname "$0")/.."
DRY=0
[[ ${1:-} == --dry-run ]] && DRY=1
PY=${PYTHON:-python3}
OUT=${OUT:-bench/out/gpu-session}
TAR=${BENCH_TAR:-.devcarry/bench.tar.xz}
CONFIG=${CONFIG:-opt-2.7b}
DTYPE=${DTYPE:-float16}
OURS_DIR=${OURS_DIR:-/tmp/blip2-ours}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
: >"$OUT/stages.tsv"

stage() {  # stage NAME SECONDS COMMAND...: runs it with a timeout (or prints it), records status and time
  local name=$1 limit=$2; shift 2
  if [[ $DRY == 1 ]]; then
    printf '[dry-run] %s (timeout %ss):' "$name" "$limit"; printf ' %q' "$@"; echo
    return 0
  fi
  echo "== $name" >&2
  local start=$SECONDS
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - start))" >>"$OUT/stages.tsv"
  [[ $rc == 124 || $rc == 137 ]] && echo "$name: timed out after ${limit}s" >&2
  return $rc
}

# --- what a dry run can check here -------------------------------------------------------------------------------
for f in native/cudagraph/build.sh native/cudagraph/cudagraph.cpp native/cudagraph/selfcheck.py bench/run-gpu.sh \
         bench/reference.py bench/compare.py bench/quant_reference.py bench/quant_compare.py; do
  [[ -f $f ]] || { echo "missing $f" >&2; exit 1; }
done
bash -n native/cudagraph/build.sh && bash -n bench/run-gpu.sh || exit 1
"$PY" -c 'import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]' \
  native/cudagraph/selfcheck.py bench/reference.py bench/compare.py bench/quant_reference.py bench/quant_compare.py || exit 1
if [[ -f $TAR ]]; then echo "publish: $TAR ($(du -h "$TAR" | cut -f1))"
else echo "no $TAR: run bench/pack-for-gpu.sh first (our side is skipped without it)" >&2; fi

# --- 1. the machine ------------------------------------------------------------------------------------------------
if [[ $DRY == 0 ]]; then
  { date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    "$PY" -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
    "$PY" -c 'import bitsandbytes; print("bitsandbytes", bitsandbytes.__version__)' 2>&1 | tail -n 1
    command -v nvcc && nvcc --version | tail -n 2; command -v g++ && g++ --version | head -n 1; } >"$OUT/env.txt" 2>&1
  cat "$OUT/env.txt" >&2
fi

# --- 2. the shim: build, check -----------------------------------------------------------------------------------
SHIM=""
if [[ ${ISSUE15:-1} != 1 ]]; then
  echo "ISSUE15=0: the CUDA-graph shim and issue 15's runs are skipped" >&2
elif [[ $DRY == 1 ]]; then
  native/cudagraph/build.sh --print-flags || echo "(build.sh --print-flags: no CUDA torch here; on the GPU machine it builds)"
  stage shim-build 240 native/cudagraph/build.sh
  stage shim-check 60 "$PY" native/cudagraph/selfcheck.py '<shim>'
else
  if stage shim-build 240 native/cudagraph/build.sh >"$OUT/shim-build.out" 2>"$OUT/shim-build.log"; then
    SHIM=$(tail -n 1 "$OUT/shim-build.out")
    stage shim-check 60 "$PY" native/cudagraph/selfcheck.py "$SHIM" >"$OUT/shim-check.jsonl" 2>>"$OUT/shim-build.log" \
      || echo "shim self-check failed (see $OUT/shim-check.jsonl, shim-build.log): graph runs will say why and run eagerly" >&2
    cp "$SHIM" "$OUT/" 2>/dev/null || true
  else
    echo "shim not built (see $OUT/shim-build.log): our cuda-graphs runs will run the static step eagerly and say why" >&2
  fi
fi

# --- 3. ours: the carried publish ----------------------------------------------------------------------------------
OURS_BIN=""
if [[ -f $TAR ]]; then
  stage unpack 60 bash -c "rm -rf '$OURS_DIR' && mkdir -p '$OURS_DIR' && tar -xJf '$TAR' -C '$OURS_DIR'" && OURS_BIN=$OURS_DIR/Blip2Compiler.Bench
fi

# --- 4. side by side: ours eager and with graphs, the reference (and its compiled caption) -------------------------
# One process per side for the generating benchmarks (one model creation), image encoding apart; no beam or
# retrieval (another model) in this budget.
export OURS_BIN BLIP2_CUDAGRAPH_SHIM=${SHIM:-${BLIP2_CUDAGRAPH_SHIM:-}} PYTHON="$PY"
[[ ${ISSUE15:-1} == 1 ]] && stage "opt $CONFIG $DTYPE" 330 env OUT_DIR="$OUT/$CONFIG-$DTYPE" WARMUP="${WARMUP:-3}" ITERATIONS="${ITERATIONS:-5}" \
  COMPILE="${COMPILE:-1}" BENCHMARKS="caption,decode-token,caption-batch image-encoding" RETRIEVAL_BENCHMARKS="" \
  DECODING_STEPS="cuda-graphs" bench/run-gpu.sh "$CONFIG" "$DTYPE"
if [[ ${ISSUE15:-1} == 1 && ${T5:-0} == 1 ]]; then
  stage "flan-t5-xl bfloat16" 120 env OUT_DIR="$OUT/flan-t5-xl-bfloat16" WARMUP=2 ITERATIONS=3 COMPILE=0 \
    BENCHMARKS="caption" RETRIEVAL_BENCHMARKS="" DECODING_STEPS="cuda-graphs" bench/run-gpu.sh flan-t5-xl bfloat16
fi

# --- 5. issue 14: quantized weights on the GPU, ours beside bitsandbytes through transformers ----------------------
# Ours from the carried publish on the Python torch's libtorch (as run-gpu.sh); the weights are quantized on the host
# as they are made (random, seed 0) and only their quantized form is copied to the GPU. ~4 minutes: the kernels ~20 s,
# ours ~1.5 min (three models, the host quantizing 2.6 B weights for each quantized one), bitsandbytes ~2 min (the
# float16 model saved once, 7.7 GB, and loaded back as int8 and as NF4).
to() {  # to FILE STAGE...: a stage whose stdout goes to FILE (printed, not run, in a dry run)
  local file=$1; shift
  if [[ $DRY == 1 ]]; then stage "$@"; else stage "$@" >"$file"; fi
}
if [[ ${QUANT:-1} == 1 ]]; then
  mkdir -p "$OUT/quant"
  TORCH_LIB=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null || echo "<torch/lib>")
  QARGS=(--config "$CONFIG" --device cuda --dtype "$DTYPE" --warmup 1 --iterations 3)
  if [[ -n $OURS_BIN || $DRY == 1 ]]; then
    BIN=${OURS_BIN:-$OURS_DIR/Blip2Compiler.Bench}
    to "$OUT/quant/kernels.jsonl" "quant-kernels" 90 env BLIP2_LIBTORCH="$TORCH_LIB" "$BIN" quant-kernels --device cuda \
      --dtype "$DTYPE" --warmup 3 --iterations 3
    to "$OUT/quant/ours.jsonl" "quant-gpu ours" 240 env BLIP2_LIBTORCH="$TORCH_LIB" "$BIN" quant-gpu "${QARGS[@]}"
  fi
  to "$OUT/quant/hf-bnb.jsonl" "quant-gpu bitsandbytes" 240 "$PY" bench/quant_reference.py "${QARGS[@]}" --dir "${QUANT_DIR:-/tmp}"
  if [[ $DRY == 0 ]]; then
    "$PY" bench/quant_compare.py "$OUT/quant/ours.jsonl" "$OUT/quant/hf-bnb.jsonl" | tee "$OUT/quant/table.md" >&2
    grep -h '"exact": false' "$OUT/quant/kernels.jsonl" >&2 && echo "a libtorch weight-only route is outside its tolerance (above)" >&2
  fi
fi

# --- 6. issue 18 (LOAD=1, off by default: ~4 minutes more): loading to the GPU against cat of the same files ---------
# A float32 opt-2.7b checkpoint written once per layout (15 GB, one file and 4 shards, under LOAD_DIR), loaded to cuda
# in float16: load time against the cat right before it, and the host's peak RSS (at most one float16 parameter per
# loader thread, never the float32 model).
if [[ ${LOAD:-0} == 1 && ( -n $OURS_BIN || $DRY == 1 ) ]]; then
  TORCH_LIB=${TORCH_LIB:-$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null || echo "<torch/lib>")}
  BIN=${OURS_BIN:-$OURS_DIR/Blip2Compiler.Bench}
  mkdir -p "$OUT/load" "${LOAD_DIR:-/tmp}"
  to "$OUT/load/load-cuda.jsonl" "load cuda float16" 420 env BLIP2_LIBTORCH="$TORCH_LIB" "$BIN" load --config "$CONFIG" --device cuda \
    --dtypes float16 --warmup 0 --iterations 1 --dir "${LOAD_DIR:-/tmp}"
fi

[[ $DRY == 0 ]] && { echo "stages (name, exit, seconds):"; cat "$OUT/stages.tsv"; } >&2
exit 0
