using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// y = x Wᵀ + b with a quantized W, reading the tensors' memory in place (no copy per call). Up to
/// <see cref="GemvMaxRows"/> activation rows (decoding: batch × beams) run the GEMV kernels, threads over output
/// rows; more rows (prefill, the vision tower's 257 tokens per image) dequantize W into a per-thread float32 buffer
/// that is reused across calls and run one libtorch GEMM, which is compute-bound there and beats a GEMV per row
/// (<c>bench/RESULTS.md</c>, <c>quant-kernels</c>).
/// </summary>
public static unsafe class WeightOnlyMatmul
{
    /// <summary>Activation rows up to which the GEMV kernels run (beyond: dequantize + GEMM).</summary>
    public const int GemvMaxRows = 8;

    // Output rows per task: enough work (≥ 64 rows · in features) that the task hand-off is small beside it.
    private const int MinRowsPerTask = 64;

    [ThreadStatic] private static Tensor? _scratch;

    public static Tensor Forward(QuantizedWeight w, Tensor x, Tensor? bias, KernelIsa isa, int gemvMaxRows = GemvMaxRows)
    {
        if (x.dtype != ScalarType.Float32 || x.device_type != DeviceType.CPU)
            throw new InvalidOperationException($"the weight-only kernels take float32 CPU activations, not {x.dtype} on {x.device_type} (checked at load: a caller bug)");
        var k = w.InFeatures;
        if (x.shape[^1] != k)
            throw new ArgumentException($"input has {x.shape[^1]} features, the weight {k}", nameof(x));
        var rows = x.NumberOfElements / k;
        if (rows > gemvMaxRows) return DequantizedGemm(w, x, bias);

        using var scope = NewDisposeScope();
        var input = x.is_contiguous() ? x : x.contiguous();
        var shape = x.shape;
        shape[^1] = w.OutFeatures;
        var output = torch.empty(shape, ScalarType.Float32);
        Gemv(w, Pointer(input), (int)rows, bias is null ? 0 : Pointer(bias.is_contiguous() ? bias : bias.contiguous()), Pointer(output), isa);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The kernel proper over raw memory: <paramref name="rows"/> activation rows of <c>InFeatures</c> floats at
    /// <paramref name="x"/> → rows of <c>OutFeatures</c> floats at <paramref name="y"/>, plus the bias (0: none).
    /// </summary>
    public static void Gemv(QuantizedWeight w, nint x, int rows, nint bias, nint y, KernelIsa isa)
    {
        int n = w.OutFeatures, k = w.InFeatures, group = w.GroupSize;
        var data = w.DataPointer;
        var scalesHandle = GCHandle.Alloc(w.Scales, GCHandleType.Pinned);
        var sums = w.Mode == QuantizationMode.Int4 ? new float[rows * (k / group)] : null;
        var sumsHandle = sums is null ? default : GCHandle.Alloc(sums, GCHandleType.Pinned);
        try
        {
            var scales = scalesHandle.AddrOfPinnedObject();
            var groupSums = sums is null ? 0 : sumsHandle.AddrOfPinnedObject();
            if (sums is not null)
                for (var m = 0; m < rows; m++)
                    Int4Kernels.GroupSums((float*)x + (long)m * k, k, group, (float*)groupSums + m * (k / group));

            void Range(int start, int end)
            {
                for (var r = start; r < end; r++)
                {
                    var b = bias == 0 ? 0f : ((float*)bias)[r];
                    for (var m = 0; m < rows; m++)
                    {
                        var xm = (float*)x + (long)m * k;
                        var dot = w.Mode == QuantizationMode.Int8
                            ? Int8Kernels.Dot(isa, xm, (sbyte*)data + (long)r * k, k) * ((float*)scales)[r]
                            : Int4Kernels.Dot(isa, xm, (byte*)data + (long)r * (k / 2), (float*)scales + (long)r * (k / group), (float*)groupSums + m * (k / group), k, group);
                        ((float*)y)[(long)m * n + r] = dot + b;
                    }
                }
            }
            ForRows(n, Range);
        }
        finally
        {
            scalesHandle.Free();
            if (sums is not null) sumsHandle.Free();
        }
    }

    /// <summary>Splits [0, n) into one contiguous range per torch intra-op thread (the caller runs one of them).</summary>
    private static void ForRows(int n, Action<int, int> range)
    {
        var tasks = Math.Clamp(n / MinRowsPerTask, 1, torch.get_num_threads());
        if (tasks == 1)
        {
            range(0, n);
            return;
        }
        var per = (n + tasks - 1) / tasks;
        Parallel.For(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = tasks }, t => range(t * per, Math.Min(n, (t + 1) * per)));
    }

    private static Tensor DequantizedGemm(QuantizedWeight w, Tensor x, Tensor? bias)
    {
        var elements = (long)w.OutFeatures * w.InFeatures;
        if (_scratch is null || _scratch.NumberOfElements < elements)
        {
            _scratch?.Dispose();
            _scratch = torch.empty(elements, ScalarType.Float32).DetachFromDisposeScope();
        }
        using var scope = NewDisposeScope();
        var weight = _scratch.narrow(0, 0, elements).view(w.OutFeatures, w.InFeatures);
        DequantizeInto(w, weight);
        return nn.functional.linear(x, weight, bias).MoveToOuterDisposeScope();
    }

    /// <summary>Writes the float32 weight into a contiguous [out, in] float32 tensor.</summary>
    public static void DequantizeInto(QuantizedWeight w, Tensor output)
    {
        int k = w.InFeatures, group = w.GroupSize;
        var data = w.DataPointer;
        var target = Pointer(output);
        var scalesHandle = GCHandle.Alloc(w.Scales, GCHandleType.Pinned);
        try
        {
            var scales = scalesHandle.AddrOfPinnedObject();
            ForRows(w.OutFeatures, (start, end) =>
            {
                for (var r = start; r < end; r++)
                {
                    var o = (float*)target + (long)r * k;
                    if (w.Mode == QuantizationMode.Int8) Int8Kernels.Dequantize((sbyte*)data + (long)r * k, ((float*)scales)[r], o, k);
                    else Int4Kernels.Dequantize((byte*)data + (long)r * (k / 2), (float*)scales + (long)r * (k / group), k, group, o);
                }
            });
        }
        finally
        {
            scalesHandle.Free();
        }
    }

    internal static nint Pointer(Tensor t) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
}
