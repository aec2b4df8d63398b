// Blip2Compiler's CUDA-graph shim: a C ABI over libtorch's at::cuda::CUDAGraph, P/Invoked by the runtime
// (runtime/Blip2Compiler.Runtime/Devices/CudaGraphShim.cs). Built against the headers of the libtorch the process
// runs (build.sh: a Python torch install's torch/include and torch/lib), so at::cuda's current-stream and caching-
// allocator state here are the same objects TorchSharp's ops use.
//
// The pattern is torch.cuda.graph's (torch/cuda/graphs.py): warm up on a side stream, synchronize, make the side
// stream current, capture_begin(pool), run the step (its kernels are recorded, not run), capture_end, restore the
// stream; then replay() launches the whole step as one graph on the current stream. Memory the step allocates while
// capturing comes from the graph's private pool (or a pool shared by several graphs, replayed one at a time) and stays
// reserved for its replays.
//
// No C++ exception crosses the boundary: every entry point catches and returns 0, with the message in the caller's
// buffer (err, errlen); 1 means success.
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace {

// The pool id type as this libtorch spells it (c10::cuda::MempoolId_t, later c10::MempoolId_t): a pair of ids.
using PoolId = decltype(std::declval<at::cuda::CUDAGraph&>().pool());
using PoolPart = PoolId::first_type;

struct Graph {
  c10::DeviceIndex device;
  c10::cuda::CUDAStream side;                 // the stream warm-ups and the capture run on
  std::optional<c10::cuda::CUDAStream> saved; // the caller's current stream while the side stream is current
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  bool capturing = false;
  bool captured = false;

  explicit Graph(c10::DeviceIndex d)
      : device(d), side(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, d)) {}
};

void write_error(char* err, size_t errlen, const char* message) {
  if (err == nullptr || errlen == 0) return;
  std::strncpy(err, message, errlen - 1);
  err[errlen - 1] = '\0';
}

template <typename F>
int guarded(char* err, size_t errlen, F&& body) {
  try {
    body();
    return 1;
  } catch (const c10::Error& e) {
    write_error(err, errlen, e.what_without_backtrace());
  } catch (const std::exception& e) {
    write_error(err, errlen, e.what());
  } catch (...) {
    write_error(err, errlen, "unknown C++ exception");
  }
  return 0;
}

// Makes the side stream current after everything queued so far has finished (as torch.cuda.graph synchronizes
// before it captures), remembering the stream to restore.
void enter_side(Graph& g) {
  c10::cuda::CUDAGuard guard(g.device);
  if (g.saved) return;
  g.saved = c10::cuda::getCurrentCUDAStream(g.device);
  c10::cuda::device_synchronize();
  c10::cuda::setCurrentCUDAStream(g.side);
}

// Restores the caller's stream once the side stream's work has finished.
void leave_side(Graph& g) {
  c10::cuda::CUDAGuard guard(g.device);
  if (!g.saved) return;
  g.side.synchronize();
  c10::cuda::setCurrentCUDAStream(*g.saved);
  g.saved.reset();
}

}  // namespace

extern "C" {

// The ABI this file implements; the runtime refuses a shim with another.
int b2cg_abi_version() { return 1; }

// The torch version the shim was compiled against, as Python's torch.__version__ spells it (build.sh defines it;
// torch/version.h's TORCH_VERSION lacks the local part, +cu130): the runtime compares it with the loaded libtorch's.
#ifndef B2CG_TORCH_VERSION
#define B2CG_TORCH_VERSION "unknown"
#endif
const char* b2cg_torch_version() { return B2CG_TORCH_VERSION; }

// A graph for one step on CUDA device `device`, with its own side stream. Null on failure.
void* b2cg_create(int device, char* err, size_t errlen) {
  Graph* created = nullptr;
  guarded(err, errlen, [&] {
    TORCH_CHECK(device >= 0 && device < c10::cuda::device_count(), "no CUDA device ", device);
    created = new Graph(static_cast<c10::DeviceIndex>(device));
    created->graph = std::make_unique<at::cuda::CUDAGraph>();
  });
  return created;
}

// A memory-pool id for graphs that share one pool (at::cuda::graph_pool_handle), e.g. one per batch bucket.
int b2cg_pool_handle(uint64_t* first, uint64_t* second, char* err, size_t errlen) {
  return guarded(err, errlen, [&] {
    auto id = at::cuda::graph_pool_handle();
    *first = static_cast<uint64_t>(id.first);
    *second = static_cast<uint64_t>(id.second);
  });
}

// Warm-up: runs what follows on the side stream (cuBLAS and other lazily made per-stream state is made outside the
// capture), until b2cg_leave_side_stream.
int b2cg_enter_side_stream(void* handle, char* err, size_t errlen) {
  return guarded(err, errlen, [&] { enter_side(*static_cast<Graph*>(handle)); });
}

int b2cg_leave_side_stream(void* handle, char* err, size_t errlen) {
  return guarded(err, errlen, [&] { leave_side(*static_cast<Graph*>(handle)); });
}

// Starts capturing on the side stream. pool (first, second) = (0, 0): a private pool; otherwise a handle from
// b2cg_pool_handle or another graph's b2cg_pool. mode: 0 global, 1 thread-local, 2 relaxed (cudaStreamCaptureMode).
int b2cg_capture_begin(void* handle, uint64_t pool_first, uint64_t pool_second, int mode, char* err, size_t errlen) {
  auto& g = *static_cast<Graph*>(handle);
  return guarded(err, errlen, [&] {
    TORCH_CHECK(!g.capturing && !g.captured, "this graph has already been captured");
    TORCH_CHECK(mode >= 0 && mode <= 2, "capture mode must be 0, 1 or 2, got ", mode);
    enter_side(g);
    try {
      PoolId pool{static_cast<PoolPart>(pool_first), static_cast<PoolPart>(pool_second)};
      g.graph->capture_begin(pool, static_cast<cudaStreamCaptureMode>(mode));
    } catch (...) {
      leave_side(g);
      throw;
    }
    g.capturing = true;
  });
}

// Ends the capture and instantiates the graph; the caller's stream is current again, whether or not it succeeded.
// A step that synchronized with the host or used an unsafe call while capturing fails here.
int b2cg_capture_end(void* handle, char* err, size_t errlen) {
  auto& g = *static_cast<Graph*>(handle);
  return guarded(err, errlen, [&] {
    TORCH_CHECK(g.capturing, "capture_end without capture_begin");
    g.capturing = false;
    try {
      g.graph->capture_end();
    } catch (...) {
      // The stream left capture mode (cudaStreamEndCapture ends it even when the capture was invalidated).
      try { leave_side(g); } catch (...) {}
      g.graph->reset();
      throw;
    }
    leave_side(g);
    g.captured = true;
  });
}

// Launches the captured step on the current stream.
int b2cg_replay(void* handle, char* err, size_t errlen) {
  auto& g = *static_cast<Graph*>(handle);
  return guarded(err, errlen, [&] {
    TORCH_CHECK(g.captured, "replay of a graph that was not captured");
    c10::cuda::CUDAGuard guard(g.device);
    g.graph->replay();
  });
}

// The graph's memory-pool id (to share it with the next capture).
int b2cg_pool(void* handle, uint64_t* first, uint64_t* second, char* err, size_t errlen) {
  auto& g = *static_cast<Graph*>(handle);
  return guarded(err, errlen, [&] {
    auto id = g.graph->pool();
    *first = static_cast<uint64_t>(id.first);
    *second = static_cast<uint64_t>(id.second);
  });
}

// Frees the graph (and its pool's hold on memory, once no other graph shares it).
void b2cg_destroy(void* handle) {
  auto* g = static_cast<Graph*>(handle);
  if (g == nullptr) return;
  try {
    if (g->capturing) g->graph->capture_end();
  } catch (...) {}
  try { leave_side(*g); } catch (...) {}
  try { g->graph->reset(); } catch (...) {}
  try { delete g; } catch (...) {}
}

}  // extern "C"
