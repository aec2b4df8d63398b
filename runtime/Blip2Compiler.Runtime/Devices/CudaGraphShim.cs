using System.Runtime.InteropServices;

namespace Blip2Compiler;

/// <summary>
/// The native CUDA-graph shim (native/cudagraph/cudagraph.cpp, built by native/cudagraph/build.sh against the Python
/// torch whose libtorch this process runs), loaded once per process with <see cref="NativeLibrary"/> and called
/// through its exported C functions. Where it cannot be found or loaded, <see cref="Unavailable"/> says why and
/// decoding runs eagerly; nothing here throws for a missing shim.
/// </summary>
/// <remarks>
/// Where it is looked for: <c>BLIP2_CUDAGRAPH_SHIM</c> (the library's path), else the cache folder build.sh writes,
/// keyed by the torch version: <c>$BLIP2_CACHE_DIR</c> (else <c>$XDG_CACHE_HOME/blip2compiler</c>, else
/// <c>~/.cache/blip2compiler</c>) <c>/cudagraph/torch-&lt;version&gt;/libblip2_cudagraph.so</c>, the version read from
/// the loaded libtorch folder (a Python install's torch/version.py). A shim built for another torch is refused: its
/// C++ types (CUDAGraph's layout, the stream and allocator state) are that version's.
/// </remarks>
internal static unsafe class CudaGraphShim
{
    public const string PathVariable = "BLIP2_CUDAGRAPH_SHIM";
    public const string CacheVariable = "BLIP2_CACHE_DIR";
    public const string LibraryName = "libblip2_cudagraph.so";
    private const int AbiVersion = 1;
    private const int ErrorBytes = 2048;

    private static readonly Lazy<string?> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    private static delegate* unmanaged<int> _abiVersion;
    private static delegate* unmanaged<nint> _torchVersion;
    private static delegate* unmanaged<int, byte*, nuint, nint> _create;
    private static delegate* unmanaged<nint, byte*, nuint, int> _enterSide;
    private static delegate* unmanaged<nint, byte*, nuint, int> _leaveSide;
    private static delegate* unmanaged<nint, ulong, ulong, int, byte*, nuint, int> _captureBegin;
    private static delegate* unmanaged<nint, byte*, nuint, int> _captureEnd;
    private static delegate* unmanaged<nint, byte*, nuint, int> _replay;
    private static delegate* unmanaged<nint, void> _destroy;

    /// <summary>Why the shim cannot be used (null: loaded and usable).</summary>
    public static string? Unavailable => Loaded.Value;

    /// <summary>The path tried for this process's torch, for messages.</summary>
    public static string ExpectedPath(string? torchVersion) =>
        Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } path ? path
        : Path.Combine(CacheRoot(), "cudagraph", "torch-" + (torchVersion ?? "unknown"), LibraryName);

    /// <summary>The cache folder build.sh writes into (the same rule as the script's).</summary>
    public static string CacheRoot() =>
        Environment.GetEnvironmentVariable(CacheVariable) is { Length: > 0 } cache ? cache
        : Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? Path.Combine(xdg, "blip2compiler")
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "blip2compiler");

    private static string? Load()
    {
        if (!OperatingSystem.IsLinux()) return "the CUDA-graph shim is built for Linux only";
        var version = TorchBackend.LibTorchFolder is { } folder ? TorchBackend.InstalledVersion(folder) : null;
        if (version is null && Environment.GetEnvironmentVariable(PathVariable) is not { Length: > 0 })
            return "the CUDA-graph shim is built against a Python torch's libtorch (BLIP2_LIBTORCH), and this process " +
                   "runs a packaged libtorch whose version is not recorded; set " + PathVariable;
        var path = ExpectedPath(version);
        if (!File.Exists(path)) return $"no CUDA-graph shim at {path}; build it with native/cudagraph/build.sh";
        if (!NativeLibrary.TryLoad(path, out var handle)) return $"the CUDA-graph shim {path} does not load (built for another libtorch?)";
        try
        {
            _abiVersion = (delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "b2cg_abi_version");
            _torchVersion = (delegate* unmanaged<nint>)NativeLibrary.GetExport(handle, "b2cg_torch_version");
            _create = (delegate* unmanaged<int, byte*, nuint, nint>)NativeLibrary.GetExport(handle, "b2cg_create");
            _enterSide = (delegate* unmanaged<nint, byte*, nuint, int>)NativeLibrary.GetExport(handle, "b2cg_enter_side_stream");
            _leaveSide = (delegate* unmanaged<nint, byte*, nuint, int>)NativeLibrary.GetExport(handle, "b2cg_leave_side_stream");
            _captureBegin = (delegate* unmanaged<nint, ulong, ulong, int, byte*, nuint, int>)NativeLibrary.GetExport(handle, "b2cg_capture_begin");
            _captureEnd = (delegate* unmanaged<nint, byte*, nuint, int>)NativeLibrary.GetExport(handle, "b2cg_capture_end");
            _replay = (delegate* unmanaged<nint, byte*, nuint, int>)NativeLibrary.GetExport(handle, "b2cg_replay");
            _destroy = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(handle, "b2cg_destroy");
        }
        catch (EntryPointNotFoundException e)
        {
            return $"the CUDA-graph shim {path} lacks an entry point ({e.Message}); rebuild it with native/cudagraph/build.sh";
        }
        if (_abiVersion() != AbiVersion) return $"the CUDA-graph shim {path} has ABI {_abiVersion()}, this runtime needs {AbiVersion}; rebuild it";
        var built = Marshal.PtrToStringUTF8(_torchVersion()) ?? "";
        if (version is not null && built != version)
            return $"the CUDA-graph shim {path} was built for torch {built}, this process runs libtorch {version}; rebuild it";
        return null;
    }

    /// <summary>A new graph on CUDA device <paramref name="device"/> (its own side stream).</summary>
    public static nint Create(int device)
    {
        Require();
        var err = stackalloc byte[ErrorBytes];
        var handle = _create(device, err, ErrorBytes);
        return handle != 0 ? handle : throw Failure("create", err);
    }

    public static void EnterSideStream(nint graph) => Call("warm-up on the side stream", graph, _enterSide);
    public static void LeaveSideStream(nint graph) => Call("leaving the side stream", graph, _leaveSide);

    /// <summary>Begins capturing on the graph's side stream into a private pool, thread-local mode (other threads'
    /// CUDA calls are not the capture's concern).</summary>
    public static void CaptureBegin(nint graph)
    {
        Require();
        var err = stackalloc byte[ErrorBytes];
        if (_captureBegin(graph, 0, 0, 1, err, ErrorBytes) == 0) throw Failure("capture_begin", err);
    }

    public static void CaptureEnd(nint graph) => Call("capture_end", graph, _captureEnd);
    public static void Replay(nint graph) => Call("replay", graph, _replay);

    public static void Destroy(nint graph)
    {
        if (graph != 0 && Unavailable is null) _destroy(graph);
    }

    private static void Call(string operation, nint graph, delegate* unmanaged<nint, byte*, nuint, int> function)
    {
        Require();
        var err = stackalloc byte[ErrorBytes];
        if (function(graph, err, ErrorBytes) == 0) throw Failure(operation, err);
    }

    private static void Require()
    {
        if (Unavailable is { } why) throw new CudaGraphException("load", why);
    }

    private static CudaGraphException Failure(string operation, byte* err) =>
        new(operation, Marshal.PtrToStringUTF8((nint)err) is { Length: > 0 } message ? message : "no message");
}
