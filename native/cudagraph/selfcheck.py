#!/usr/bin/env python3
"""Checks the CUDA-graph shim on a GPU machine without dotnet: loads it with ctypes into a Python that has imported the
torch it was built for (the same libtorch, as in our runtime), captures a small step of torch ops through it, replays
it on new inputs, checks that a host read inside a capture fails as an error (not a crash), and times a 200-op step
eagerly and replayed. Prints one JSON line; exit 1 when a check fails.

    python3 native/cudagraph/selfcheck.py PATH/libblip2_cudagraph.so
"""
import ctypes
import json
import sys
import time

import torch

ERR = 2048


def main():
    lib = ctypes.CDLL(sys.argv[1])
    err = ctypes.create_string_buffer(ERR)
    vp, c = ctypes.c_void_p, ctypes.c_char_p
    lib.b2cg_abi_version.restype = ctypes.c_int
    lib.b2cg_torch_version.restype = c
    lib.b2cg_create.restype = vp
    lib.b2cg_create.argtypes = [ctypes.c_int, c, ctypes.c_size_t]
    for name in ("b2cg_enter_side_stream", "b2cg_leave_side_stream", "b2cg_capture_end", "b2cg_replay"):
        getattr(lib, name).argtypes = [vp, c, ctypes.c_size_t]
        getattr(lib, name).restype = ctypes.c_int
    lib.b2cg_capture_begin.argtypes = [vp, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_int, c, ctypes.c_size_t]
    lib.b2cg_capture_begin.restype = ctypes.c_int
    lib.b2cg_destroy.argtypes = [vp]

    def call(name, *args):
        if getattr(lib, name)(*args, err, ERR) != 1:
            raise RuntimeError(f"{name}: {err.value.decode()}")

    result = {"check": "cudagraph-shim", "abi": lib.b2cg_abi_version(),
              "built_for": lib.b2cg_torch_version().decode(), "torch": torch.__version__,
              "device": torch.cuda.get_device_name(0)}
    checks = {}

    def capture(step):
        graph = lib.b2cg_create(0, err, ERR)
        if not graph:
            raise RuntimeError("create: " + err.value.decode())
        call("b2cg_enter_side_stream", graph)
        step()  # warm-up on the side stream
        call("b2cg_leave_side_stream", graph)
        call("b2cg_capture_begin", graph, 0, 0, 1)
        step()
        call("b2cg_capture_end", graph)
        return graph

    # 1. A step over static buffers replays on new inputs.
    x = torch.zeros(1024, device="cuda")
    y = torch.empty_like(x)
    graph = capture(lambda: y.copy_(torch.relu(x * 2 + 1)))
    x.fill_(3)
    call("b2cg_replay", graph)
    torch.cuda.synchronize()
    checks["replay_new_inputs"] = bool((y == 7).all().item())
    lib.b2cg_destroy(graph)

    # 2. A host read inside a capture is an error from the shim (capture_end), and the process goes on.
    graph = lib.b2cg_create(0, err, ERR)
    call("b2cg_capture_begin", graph, 0, 0, 1)
    read_failed = False
    try:
        x.sum().item()
    except RuntimeError:
        read_failed = True
    ended = lib.b2cg_capture_end(graph, err, ERR)
    checks["host_read_refused"] = read_failed or ended == 0
    result["host_read_message"] = err.value.decode()[:200]
    lib.b2cg_destroy(graph)
    z = x + 1  # the stream is usable again
    torch.cuda.synchronize()
    checks["usable_after_failure"] = bool((z == 4).all().item())

    # 3. 200 small ops: eager vs one replay (the host cost a graph removes).
    a = torch.randn(64, 64, device="cuda", dtype=torch.float16)
    out = torch.empty_like(a)

    def many():
        h = a
        for _ in range(100):
            h = torch.tanh(h @ a)
        out.copy_(h)

    graph = capture(many)
    for label, run in (("eager", many), ("replay", lambda: call("b2cg_replay", graph))):
        for _ in range(3):
            run()
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(20):
            run()
        torch.cuda.synchronize()
        result[f"{label}_ms_200_ops"] = round((time.perf_counter() - start) * 1000 / 20, 4)
    expected = out.clone()
    many()
    checks["replay_equals_eager"] = bool(torch.equal(expected, out))
    lib.b2cg_destroy(graph)

    result["checks"] = checks
    result["ok"] = all(checks.values()) and result["abi"] == 1
    print(json.dumps(result), flush=True)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
