using Blip2Compiler.Nn.Quantization;
using Blip2Compiler.Tests.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Nn.Quantization;

/// <summary>
/// The CUDA route's layouts and scales (<see cref="LibTorchWeightOnlyMatmul"/>), checked on the CPU through the very
/// TorchScript functions the GPU runs, which pick the ops' CPU variants there (<c>_weight_int8pack_mm</c>,
/// <c>_weight_int4pack_mm_for_cpu</c>): each route against the float64 product of the same quantized weight
/// (<see cref="Quantizer"/>'s codes and scales, dequantized by the runtime's reference), within the bound
/// <see cref="LibTorchWeightOnlyMatmul.ProbeTolerance"/> states. The same checks on CUDA are <see cref="CudaFactAttribute"/>s.
/// </summary>
public class LibTorchWeightOnlyMatmulTests
{
    private const int N = 48, K = 256;

    private static (QuantizedWeight Host, Tensor Reference) Quantized(QuantizationMode mode, int group = 64)
    {
        var w = randn([N, K], generator: new Generator(21));
        var host = Quantizer.Quantize(w, mode, mode == QuantizationMode.Int8 ? K : group);
        return (host, host.Dequantize());
    }

    [Fact]
    public void Int4NibblesAreGptFastsLayoutOfTheSameCodes()
    {
        using var _ = NewDisposeScope();
        var (host, _) = Quantized(QuantizationMode.Int4);
        var nibbles = LibTorchWeightOnlyMatmul.Int4Nibbles(host);
        var q4 = host.Data.bytes.ToArray();
        for (var r = 0; r < N; r++)
            for (var i = 0; i < K; i++)
            {
                // Element 2j in the high nibble of byte j, 2j + 1 in the low one (torchao / gpt-fast's packing).
                var b = nibbles[r * (K / 2) + i / 2];
                var u = i % 2 == 0 ? b >> 4 : b & 0x0F;
                Assert.Equal(Int4Kernels.Nibble(q4.AsSpan(r * (K / 2), K / 2), i), u);
            }
        host.Data.Dispose();
    }

    public static TheoryData<QuantizationMode, int, bool> Routes() => new()
    {
        { QuantizationMode.Int8, 1, false },                                   // _weight_int8pack_mm, decoding
        { QuantizationMode.Int8, LibTorchWeightOnlyMatmul.Int8PackMaxRows, true },
        { QuantizationMode.Int8, LibTorchWeightOnlyMatmul.Int8PackMaxRows + 5, true },   // dequantize + GEMM
        { QuantizationMode.Int4, 1, false },
        { QuantizationMode.Int4, 19, true },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public void EachRouteOnTheCpuIsTheFloatProductOfTheSameQuantizedWeight(QuantizationMode mode, int rows, bool bias)
    {
        using var _ = NewDisposeScope();
        var (host, reference) = Quantized(mode);
        var w = LibTorchWeightOnlyMatmul.ToLibTorch(host, CPU);
        try
        {
            Assert.Empty(w.Scales);
            Assert.NotNull(w.ScaleTensor);
            var x = randn([1, rows, K], generator: new Generator(22));
            var b = bias ? randn([N], generator: new Generator(23)) : null;
            var y = w.Forward(x, b);
            Assert.Equal(new long[] { 1, rows, N }, y.shape);
            Assert.Equal(ScalarType.Float32, y.dtype);
            var error = LibTorchWeightOnlyMatmul.Error(b is null ? y : y - b, x, reference);
            Assert.True(error <= LibTorchWeightOnlyMatmul.ProbeTolerance(mode, ScalarType.Float32),
                $"{LibTorchWeightOnlyMatmul.Route(mode, rows)}: {error:G3} of the product's scale");
        }
        finally
        {
            host.Data.Dispose();
            w.Data.Dispose();
            w.ScaleTensor?.Dispose();
        }
    }

    /// <summary>The bound catches a wrong layout: the weight's own Q4_0 bytes handed to the repacking, as if they were
    /// gpt-fast's, give a product far outside it (so the test above can fail).</summary>
    [Fact]
    public void Int4NibblesInTheWrongOrderAreFarOutsideTheBound()
    {
        using var _ = NewDisposeScope();
        var (host, reference) = Quantized(QuantizationMode.Int4);
        var right = LibTorchWeightOnlyMatmul.ToLibTorch(host, CPU);
        var wrongPacked = WeightOnlyScripts.Invoke("int4_pack", host.Data, LibTorchWeightOnlyMatmul.InnerKTiles(K));
        var wrong = new QuantizedWeight(QuantizationMode.Int4, wrongPacked, [], N, K, host.GroupSize, right.ScaleTensor);
        var x = randn([3, K], generator: new Generator(24));
        var error = LibTorchWeightOnlyMatmul.Error(wrong.Forward(x, null), x, reference);
        Assert.True(error > 10 * LibTorchWeightOnlyMatmul.ProbeTolerance(QuantizationMode.Int4, ScalarType.Float32), $"{error:G3}");
        host.Data.Dispose();
        right.Data.Dispose();
        wrongPacked.Dispose();
        right.ScaleTensor!.Dispose();
    }

    [Fact]
    public void Int8ScalesOffByOneRowAreFarOutsideTheBound()
    {
        using var _ = NewDisposeScope();
        var (host, reference) = Quantized(QuantizationMode.Int8);
        var w = LibTorchWeightOnlyMatmul.ToLibTorch(host, CPU);
        var rolled = new QuantizedWeight(QuantizationMode.Int8, w.Data, [], N, K, K, w.ScaleTensor!.roll(1));
        var x = randn([2, K], generator: new Generator(25));
        foreach (var maxRows in new[] { 0, 8 })   // both routes
        {
            var error = LibTorchWeightOnlyMatmul.Error(LibTorchWeightOnlyMatmul.Forward(rolled, x, null, maxRows), x, reference);
            Assert.True(error > 100 * LibTorchWeightOnlyMatmul.ProbeTolerance(QuantizationMode.Int8, ScalarType.Float32), $"{error:G3}");
        }
        host.Data.Dispose();
        w.Data.Dispose();
        w.ScaleTensor!.Dispose();
    }

    [Theory]
    [InlineData(QuantizationMode.Int8)]
    [InlineData(QuantizationMode.Int4)]
    public void DequantizingTheLibTorchFormGivesTheSameWeight(QuantizationMode mode)
    {
        using var _ = NewDisposeScope();
        var (host, reference) = Quantized(mode);
        var w = LibTorchWeightOnlyMatmul.ToLibTorch(host, CPU);
        var back = w.Dequantize();
        // int8: exact; int4: each weight as tinygemm's product sees it, rounded to bfloat16 (2⁻⁹ relative) with its
        // bfloat16 scale (2⁻⁹ more).
        var tolerance = mode == QuantizationMode.Int8 ? 0 : 2.0 / 256;
        Assert.True((back - reference).abs().le(reference.abs() * tolerance + 1e-7).all().item<bool>());
        host.Data.Dispose();
        w.Data.Dispose();
        w.ScaleTensor!.Dispose();
    }

    [Theory]
    [InlineData(QuantizationMode.Int8, 0)]
    [InlineData(QuantizationMode.Int4, 128)]
    public void TheProbeAcceptsTheCpuVariants(QuantizationMode mode, int group)
    {
        Assert.Null(LibTorchWeightOnlyMatmul.Probe(mode, ScalarType.Float32, CPU, group));
    }

    [CudaTheory]
    [InlineData(QuantizationMode.Int8, ScalarType.Float16)]
    [InlineData(QuantizationMode.Int8, ScalarType.BFloat16)]
    [InlineData(QuantizationMode.Int4, ScalarType.BFloat16)]
    [InlineData(QuantizationMode.Int4, ScalarType.Float16)]
    public void EachRouteOnCudaIsTheFloatProductOfTheSameQuantizedWeight(QuantizationMode mode, ScalarType dtype)
    {
        using var _ = NewDisposeScope();
        var (host, reference) = Quantized(mode);
        var w = LibTorchWeightOnlyMatmul.ToLibTorch(host, CUDA);
        try
        {
            foreach (var rows in new[] { 1, LibTorchWeightOnlyMatmul.Int8PackMaxRows + 5 })
            {
                var x = randn([rows, K], generator: new Generator(26)).to(dtype);
                var y = w.Forward(x.to(CUDA), null);
                Assert.Equal(dtype, y.dtype);
                Assert.Equal(DeviceType.CUDA, y.device_type);
                var error = LibTorchWeightOnlyMatmul.Error(y, x, reference);
                Assert.True(error <= LibTorchWeightOnlyMatmul.ProbeTolerance(mode, dtype), $"{LibTorchWeightOnlyMatmul.Route(mode, rows)}: {error:G3}");
            }
            Assert.Null(LibTorchWeightOnlyMatmul.Probe(mode, dtype, CUDA, host.GroupSize));
        }
        finally
        {
            host.Data.Dispose();
            w.Data.Dispose();
            w.ScaleTensor?.Dispose();
        }
    }
}
