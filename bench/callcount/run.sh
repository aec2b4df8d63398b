#!/usr/bin/env bash
# Runs the bench with every call into TorchSharp's native library counted (callcount.c, preloaded), e.g.
#   bench/callcount/run.sh calls --config mid
# OURS_BIN=<bench executable> runs a given build (a publish) instead of this tree's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lib="${TMPDIR:-/tmp}/libcallcount.so"
gcc -O2 -Wall -shared -fPIC -o "$lib" "$here/callcount.c" -ldl
if [[ -n ${OURS_BIN:-} ]]; then bench=("$OURS_BIN")
else
  dotnet build "$here/../Blip2Compiler.Bench" -c Release >/dev/null
  bench=(dotnet "$here/../Blip2Compiler.Bench/bin/Release/net10.0/Blip2Compiler.Bench.dll")
fi
CALLCOUNT_LIB="$lib" LD_PRELOAD="$lib" "${bench[@]}" "$@"
