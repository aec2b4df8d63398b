#!/usr/bin/env bash
# Builds the CUDA-graph shim (cudagraph.cpp) against a Python torch install, the way torch.utils.cpp_extension builds
# an extension: that torch's include dirs and lib/, the CUDA toolkit's headers (CUDA_HOME, nvcc's toolkit, or the
# nvidia-* pip packages), its C++ ABI flag. The library goes to a cache folder keyed by the torch version and the
# source's hash, where the runtime looks for it (runtime/Blip2Compiler.Runtime/Devices/CudaGraphShim.cs):
#
#   ${BLIP2_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/blip2compiler}/cudagraph/torch-<version>/libblip2_cudagraph.so
#
#   native/cudagraph/build.sh [--print-flags]    env: PYTHON (python3), CXX (g++), CUDA_HOME
#
# Prints the library's path as its last line. --print-flags prints the compile command without running it (a dry
# run, for a machine without torch's CUDA headers). Exit 2: no torch / no CUDA headers / no compiler (the runtime then
# decodes eagerly).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
CXX=${CXX:-g++}
DRY=0
[[ ${1:-} == --print-flags ]] && DRY=1

fail() { echo "cudagraph shim not built: $*" >&2; exit 2; }

# One Python call for everything torch knows: version, lib dir, include dirs (torch >= 2.6 takes device_type, older
# cuda=True), C++ ABI, the CUDA_HOME cpp_extension found, and the nvidia-* pip packages' include dirs.
INFO=$("$PY" - <<'PYEOF'
import glob, os, sys
try:
    import torch
    import torch.utils.cpp_extension as ext
except Exception as e:  # noqa: BLE001
    print("error=no torch in this Python: %s" % e); sys.exit(0)
print("version=" + torch.__version__)
print("cuda=" + str(torch.version.cuda))
print("lib=" + os.path.join(os.path.dirname(torch.__file__), "lib"))
try:
    paths = ext.include_paths(device_type="cuda")
except TypeError:
    paths = ext.include_paths(cuda=True)
for p in paths:
    print("include=" + p)
print("abi=%d" % int(torch._C._GLIBCXX_USE_CXX11_ABI))
print("cuda_home=" + (ext.CUDA_HOME or ""))
try:
    import nvidia
    for root in list(nvidia.__path__):
        for inc in sorted(glob.glob(os.path.join(root, "*", "include")) + glob.glob(os.path.join(root, "include"))):
            print("nvidia_include=" + inc)
except Exception:  # noqa: BLE001
    pass
PYEOF
) || fail "$PY failed"
get() { sed -n "s/^$1=//p" <<<"$INFO"; }
[[ -n $(get error) ]] && fail "$(get error)"
VERSION=$(get version)
TORCH_LIB=$(get lib)
[[ $(get cuda) == None ]] && fail "torch $VERSION is a CPU build (torch.version.cuda is None)"

INCLUDES=()
while read -r dir; do [[ -n $dir ]] && INCLUDES+=("-I$dir"); done < <(get include)
# cuda_runtime_api.h: the toolkit (CUDA_HOME, then cpp_extension's guess), else a pip package's headers.
CUDA_HOME=${CUDA_HOME:-$(get cuda_home)}
CUDA_INCLUDE=""
for candidate in "${CUDA_HOME:+$CUDA_HOME/include}" $(get nvidia_include); do
  if [[ -n $candidate && -f $candidate/cuda_runtime_api.h ]]; then CUDA_INCLUDE=$candidate; break; fi
done
[[ -z $CUDA_INCLUDE ]] && fail "no cuda_runtime_api.h (set CUDA_HOME to a CUDA toolkit, or pip install the nvidia-cuda-runtime headers)"
INCLUDES+=("-I$CUDA_INCLUDE")
# The nvidia-* pip packages keep each library's headers apart (cuBLAS, cuSPARSE... are included by some ATen headers).
while read -r dir; do [[ -n $dir && $dir != "$CUDA_INCLUDE" ]] && INCLUDES+=("-I$dir"); done < <(get nvidia_include)

command -v "$CXX" >/dev/null || fail "no C++ compiler ($CXX)"

HASH=$(sha256sum "$HERE/cudagraph.cpp" "$HERE/build.sh" | sha256sum | cut -c1-12)
CACHE=${BLIP2_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/blip2compiler}
DIR="$CACHE/cudagraph/torch-$VERSION"
OUTPUT="$DIR/libblip2_cudagraph.so"

# -Wl,-rpath: the shim's libc10/libtorch_cuda resolve to this torch's, which are the ones already in the process
# (the runtime loads BLIP2_LIBTORCH=<that lib/> by full path first).
command_for() {  # command_for STD: the compile command in CMD
  CMD=("$CXX" -std="$1" -O2 -fPIC -shared -D_GLIBCXX_USE_CXX11_ABI="$(get abi)" -DB2CG_TORCH_VERSION="\"$VERSION\"" "${INCLUDES[@]}"
       "$HERE/cudagraph.cpp" -o "$OUTPUT.tmp" -L"$TORCH_LIB" -Wl,-rpath,"$TORCH_LIB"
       -lc10 -lc10_cuda -ltorch_cpu -ltorch_cuda)
}

if [[ $DRY == 1 ]]; then
  echo "torch $VERSION (CUDA $(get cuda)) at $TORCH_LIB; CUDA headers at $CUDA_INCLUDE"
  command_for c++17
  printf '%q ' "${CMD[@]}"; echo
  echo "$OUTPUT"
  exit 0
fi

if [[ -f $OUTPUT && -f $DIR/source.sha && $(cat "$DIR/source.sha") == "$HASH" ]]; then
  echo "$OUTPUT"
  exit 0
fi
mkdir -p "$DIR"
# cpp_extension's default standard is C++17; headers that want C++20 get it on the second try.
command_for c++17
if ! "${CMD[@]}" 2>"$DIR/build.log"; then
  command_for c++20
  "${CMD[@]}" 2>>"$DIR/build.log" || { tail -n 40 "$DIR/build.log" >&2; fail "compile failed (log: $DIR/build.log)"; }
fi
mv "$OUTPUT.tmp" "$OUTPUT"
echo "$HASH" >"$DIR/source.sha"
echo "$OUTPUT"
