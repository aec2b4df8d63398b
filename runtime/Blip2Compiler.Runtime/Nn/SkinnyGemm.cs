using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn;

/// <summary>
/// y = x Wᵀ + b for a few activation rows (2 to <see cref="MaxRows"/>: a batched decoding step) of float32 on the CPU,
/// reading W once for all rows: every weight row is loaded once and multiplied with each activation row while it is
/// in cache, so a batch-8 step reads the same weight bytes as a batch-1 step.
/// </summary>
/// <remarks>
/// Why not libtorch's addmm: its MKL sgemm on the 2-core AMD EPYC here (one thread, best of 15; bench/RESULTS.md,
/// "Batched decoding step per op") took 3.9 ms for 8 rows × [4096, 1024] against 0.8 ms for one row (17 GFLOP/s),
/// 3.5 ms × [1024, 4096] against 0.65, and 40–64 ms for the [50304, 1024] LM head against 13–15 ms: 3–5× one row where
/// the weights' memory read, the whole cost of one row, is the same. This kernel, same moment: 3.0, 2.3 and 143 ms
/// against addmm's 5.1, 7.5 and 394. Each output is one FMA chain over k in 8-float lanes, then a fixed lane sum:
/// the same arithmetic for an activation row whatever other rows are in the call.
/// </remarks>
public static unsafe class SkinnyGemm
{
    /// <summary>Activation rows up to which the kernel runs (beyond, GEMM blocking pays off and libtorch's addmm runs).</summary>
    public const int MaxRows = 16;

    // Output features per task: enough work that the hand-off between threads is small beside it.
    private const int MinOutputsPerTask = 256;

    /// <summary>Whether the kernel takes this product (else the caller runs libtorch's linear).</summary>
    public static bool Takes(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!Fma.IsSupported || !Avx2.IsSupported) return false;
        if (x.device_type != DeviceType.CPU || x.dtype != ScalarType.Float32 || weight.dtype != ScalarType.Float32) return false;
        if (weight.Dimensions != 2 || !weight.is_contiguous() || bias is not null && (bias.dtype != ScalarType.Float32 || !bias.is_contiguous())) return false;
        if (torch.is_grad_enabled() && (x.requires_grad || weight.requires_grad)) return false;
        var k = weight.shape[1];
        if (k % 8 != 0 || x.shape[^1] != k) return false;
        var rows = x.NumberOfElements / k;
        return rows is >= 2 and <= MaxRows;
    }

    /// <summary>y = x Wᵀ + b, x [..., k] (any leading shape), W [n, k], b [n] or null; checked by <see cref="Takes"/>.</summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        var (n, k) = ((int)weight.shape[0], (int)weight.shape[1]);
        var rows = (int)(x.NumberOfElements / k);
        var input = x.is_contiguous() ? x : x.contiguous();
        var shape = x.shape;
        shape[^1] = n;
        var output = torch.empty(shape, ScalarType.Float32);
        var (px, pw, py) = (Pointer(input), Pointer(weight), Pointer(output));
        var pb = bias is null ? 0 : Pointer(bias);
        var tasks = Math.Clamp(n / MinOutputsPerTask, 1, torch.get_num_threads());
        if (tasks == 1) Range((float*)px, rows, k, (float*)pw, (float*)pb, (float*)py, n, 0, n);
        else
        {
            // Even splits, so the weight-row pairs never straddle two tasks.
            var per = ((n + tasks - 1) / tasks + 1) / 2 * 2;
            Parallel.For(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = tasks },
                t => Range((float*)px, rows, k, (float*)pw, (float*)pb, (float*)py, n, Math.Min(n, t * per), Math.Min(n, (t + 1) * per)));
        }
        if (!ReferenceEquals(input, x)) input.Dispose();
        return output;
    }

    /// <summary>Outputs [start, end) of every row: weight rows in pairs, activation rows in fours (8 FMA chains).</summary>
    private static void Range(float* x, int rows, int k, float* w, float* bias, float* y, int n, int start, int end)
    {
        var o = start;
        for (; o + 2 <= end; o += 2)
        {
            var w0 = w + (long)o * k;
            var w1 = w0 + k;
            var m = 0;
            if (o + 4 <= end)
            {
                // The first block over a weight-row pair also asks for the next pair (NextPairAhead).
                if (rows >= 4) { Block2x4<NextPairAhead>(x, k, w0, w1, bias, y, n, o); m = 4; }
                else { Block2x2<NextPairAhead>(x, k, w0, w1, bias, y, n, o); m = 2; }
            }
            for (; m + 4 <= rows; m += 4) Block2x4<NoPrefetch>(x + (long)m * k, k, w0, w1, bias, y + (long)m * n, n, o);
            for (; m + 2 <= rows; m += 2) Block2x2<NoPrefetch>(x + (long)m * k, k, w0, w1, bias, y + (long)m * n, n, o);
            if (m < rows) Block2x1(x + (long)m * k, k, w0, w1, bias, y + (long)m * n, o);
        }
        for (; o < end; o++)
            for (var m = 0; m < rows; m++)
                y[(long)m * n + o] = Dot(x + (long)m * k, w + (long)o * k, k) + (bias is null ? 0f : bias[o]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block2x4<TPrefetch>(float* x, int k, float* w0, float* w1, float* bias, float* y, int n, int o)
        where TPrefetch : struct, IPrefetch
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        float* x0 = x, x1 = x + k, x2 = x + 2 * k, x3 = x + 3 * k;
        for (var i = 0; i < k; i += 8)
        {
            if (TPrefetch.Enabled && (i & 15) == 0) PrefetchNextPair(w0, w1, k, i);
            var v0 = Avx.LoadVector256(w0 + i);
            var v1 = Avx.LoadVector256(w1 + i);
            var u = Avx.LoadVector256(x0 + i);
            a00 = Fma.MultiplyAdd(v0, u, a00);
            a10 = Fma.MultiplyAdd(v1, u, a10);
            u = Avx.LoadVector256(x1 + i);
            a01 = Fma.MultiplyAdd(v0, u, a01);
            a11 = Fma.MultiplyAdd(v1, u, a11);
            u = Avx.LoadVector256(x2 + i);
            a02 = Fma.MultiplyAdd(v0, u, a02);
            a12 = Fma.MultiplyAdd(v1, u, a12);
            u = Avx.LoadVector256(x3 + i);
            a03 = Fma.MultiplyAdd(v0, u, a03);
            a13 = Fma.MultiplyAdd(v1, u, a13);
        }
        float b0 = bias is null ? 0f : bias[o], b1 = bias is null ? 0f : bias[o + 1];
        y[o] = Sum(a00) + b0; y[o + 1] = Sum(a10) + b1;
        y[n + o] = Sum(a01) + b0; y[n + o + 1] = Sum(a11) + b1;
        y[2L * n + o] = Sum(a02) + b0; y[2L * n + o + 1] = Sum(a12) + b1;
        y[3L * n + o] = Sum(a03) + b0; y[3L * n + o + 1] = Sum(a13) + b1;
    }

    // The first block over a weight-row pair also prefetches the next pair (the 2k floats after w1) while this pair
    // computes, one 64-byte line of each row per 16 floats. Why: the rows are one contiguous stream, yet without it a batch-8 step's
    // linears took 53–54 ms against 31–33 ms with it, and the LM head 24 ms against 14.5 (engine-step, mid, 2 threads,
    // two alternated runs); a batch-8 step went from 71 to 50–53 ms, 1.07–1.12× the batch-1 step (bench/RESULTS.md).
    private interface IPrefetch
    {
        static abstract bool Enabled { get; }
    }

    // Struct type arguments: the JIT compiles each block once per kind, the test folded away.
    private struct NextPairAhead : IPrefetch
    {
        public static bool Enabled => true;
    }

    private struct NoPrefetch : IPrefetch
    {
        public static bool Enabled => false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchNextPair(float* w0, float* w1, int k, int i)
    {
        Sse.Prefetch0(w0 + 2 * k + i);
        Sse.Prefetch0(w1 + 2 * k + i);
    }

    // The 2×4 block's arithmetic for the last rows (2, then 1): four and two FMA chains.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block2x2<TPrefetch>(float* x, int k, float* w0, float* w1, float* bias, float* y, int n, int o)
        where TPrefetch : struct, IPrefetch
    {
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default;
        float* x0 = x, x1 = x + k;
        for (var i = 0; i < k; i += 8)
        {
            if (TPrefetch.Enabled && (i & 15) == 0) PrefetchNextPair(w0, w1, k, i);
            var v0 = Avx.LoadVector256(w0 + i);
            var v1 = Avx.LoadVector256(w1 + i);
            var u = Avx.LoadVector256(x0 + i);
            a00 = Fma.MultiplyAdd(v0, u, a00);
            a10 = Fma.MultiplyAdd(v1, u, a10);
            u = Avx.LoadVector256(x1 + i);
            a01 = Fma.MultiplyAdd(v0, u, a01);
            a11 = Fma.MultiplyAdd(v1, u, a11);
        }
        float b0 = bias is null ? 0f : bias[o], b1 = bias is null ? 0f : bias[o + 1];
        y[o] = Sum(a00) + b0; y[o + 1] = Sum(a10) + b1;
        y[n + o] = Sum(a01) + b0; y[n + o + 1] = Sum(a11) + b1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block2x1(float* x, int k, float* w0, float* w1, float* bias, float* y, int o)
    {
        Vector256<float> a0 = default, a1 = default;
        for (var i = 0; i < k; i += 8)
        {
            var u = Avx.LoadVector256(x + i);
            a0 = Fma.MultiplyAdd(Avx.LoadVector256(w0 + i), u, a0);
            a1 = Fma.MultiplyAdd(Avx.LoadVector256(w1 + i), u, a1);
        }
        y[o] = Sum(a0) + (bias is null ? 0f : bias[o]);
        y[o + 1] = Sum(a1) + (bias is null ? 0f : bias[o + 1]);
    }

    /// <summary>One output: the same FMA chain and lane sum as <see cref="Block2x4"/>'s.</summary>
    private static float Dot(float* x, float* w, int k)
    {
        Vector256<float> a = default;
        for (var i = 0; i < k; i += 8) a = Fma.MultiplyAdd(Avx.LoadVector256(w + i), Avx.LoadVector256(x + i), a);
        return Sum(a);
    }

    // A fixed lane order (pairs, then pairs of pairs), so every output sums its lanes the same way.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(Vector256<float> v)
    {
        var h = Sse.Add(v.GetLower(), v.GetUpper());
        h = Sse.Add(h, Sse.MoveHighToLow(h, h));
        return h.ToScalar() + h.GetElement(1);
    }

    private static nint Pointer(Tensor t) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(t.bytes));
}
