using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// y = x Wᵀ + b with a quantized W through libtorch's own weight-only kernels, which TorchSharp does not bind: they are
/// reached through TorchScript compiled in-process (<see cref="WeightOnlyScripts"/>). This is the runtime's route on
/// CUDA (the weights never leave the device; activations stay in the model's dtype):
/// <list type="bullet">
/// <item>int8, up to <see cref="Int8PackMaxRows"/> activation rows (decoding): <c>_weight_int8pack_mm</c> (int8 [out, in],
/// float32 scales per row; its CUDA kernel, torch ≥ 2.9, computes in float32). More rows (prefill, the vision tower):
/// the weight dequantized into a per-thread buffer of the model's dtype (one <c>mul</c> with <c>out=</c>), then one
/// cuBLAS GEMM — the way the CPU side serves prefill.</item>
/// <item>int4: <c>_weight_int4pack_mm</c> (tinygemm: bfloat16 activations, the weight repacked once at load by
/// <c>_convert_weight_to_int4pack</c> into its tensor-core tiles, bfloat16 scales and zero points [groups, out, 2]).
/// Activations of another dtype are converted to bfloat16 for the product and the output back.</item>
/// </list>
/// On the CPU the runtime keeps its own kernels (<see cref="WeightOnlyMatmul"/>, 6-7× faster than
/// <c>_weight_int8pack_mm</c> there, <c>bench/RESULTS.md</c>); the same scripts run there too through the ops' CPU
/// variants (<c>_weight_int8pack_mm</c>, <c>_weight_int4pack_mm_for_cpu</c>), which is how the CPU tests check the
/// layouts and scales this class builds.
/// </summary>
public static class LibTorchWeightOnlyMatmul
{
    /// <summary>Activation rows up to which int8 runs <c>_weight_int8pack_mm</c> (beyond: dequantize + GEMM). The
    /// CPU side's cut-over; not yet measured on a GPU (<c>quant-kernels --device cuda</c> measures both routes).</summary>
    public const int Int8PackMaxRows = 8;

    /// <summary>tinygemm's group sizes.</summary>
    public static readonly int[] Int4GroupSizes = [32, 64, 128, 256];

    [ThreadStatic] private static Tensor? _buffer;

    /// <summary>The host form <paramref name="host"/> (what <see cref="Quantizer"/> makes) in these kernels' layout on
    /// <paramref name="device"/>; <paramref name="host"/> is left as it is (the caller frees it).</summary>
    public static QuantizedWeight ToLibTorch(QuantizedWeight host, Device device)
    {
        if (host.ScaleTensor is not null) throw new ArgumentException("already in libtorch's layout", nameof(host));
        using var scope = NewDisposeScope();
        Tensor data, scales;
        if (host.Mode == QuantizationMode.Int8)
        {
            data = host.Data.to(device, copy: true);
            scales = torch.tensor(host.Scales).to(device);
        }
        else
        {
            var groups = host.InFeatures / host.GroupSize;
            var nibbles = torch.tensor(Int4Nibbles(host), [host.OutFeatures, host.InFeatures / 2], ScalarType.Byte).to(device);
            data = WeightOnlyScripts.Invoke("int4_pack", nibbles, InnerKTiles(host.InFeatures));
            var s = torch.tensor(host.Scales, [host.OutFeatures, groups]).t();
            // Zero points 0: tinygemm's weight is (u − 8)·scale + zero, and ours (u − 8)·scale (symmetric).
            scales = torch.stack([s, torch.zeros_like(s)], -1).to(ScalarType.BFloat16).contiguous().to(device);
        }
        return new QuantizedWeight(host.Mode, data.DetachFromDisposeScope(), [], host.OutFeatures, host.InFeatures, host.GroupSize,
            scales.DetachFromDisposeScope());
    }

    /// <summary>
    /// tinygemm's input layout (gpt-fast's): uint8 [out, in / 2], byte j of a row = u[2j] &lt;&lt; 4 | u[2j + 1] with
    /// u = q + 8, from the host form's Q4_0 blocks (byte j of a 32-block: element j low, element j + 16 high).
    /// </summary>
    public static byte[] Int4Nibbles(QuantizedWeight host)
    {
        var source = host.Data.bytes;
        var output = new byte[source.Length];
        const int half = Int4Kernels.Block / 2;
        for (var block = 0; block < source.Length; block += half)
        {
            var b = source.Slice(block, half);
            var o = output.AsSpan(block, half);
            for (var m = 0; m < half / 2; m++)   // elements 2m, 2m + 1 < 16: low nibbles of bytes 2m, 2m + 1
                o[m] = (byte)((b[2 * m] & 0x0F) << 4 | (b[2 * m + 1] & 0x0F));
            for (var m = half / 2; m < half; m++)   // elements 2m, 2m + 1 ≥ 16: high nibbles of bytes 2m − 16, 2m − 15
                o[m] = (byte)((b[2 * m - half] & 0xF0) | (b[2 * m - half + 1] >> 4));
        }
        return output;
    }

    /// <summary>k-tiles of 16 packed side by side: 8 (16-byte loads) when the input size allows, else 4 or 2.</summary>
    public static int InnerKTiles(int inFeatures) => inFeatures % 128 == 0 ? 8 : inFeatures % 64 == 0 ? 4 : 2;

    /// <summary>The cut-over <see cref="Forward(QuantizedWeight, Tensor, Tensor?)"/> uses (the bench sets 0 to run a
    /// whole int8 model through dequantize + GEMM, side by side with the default).</summary>
    internal static int Int8PackRows { get; set; } = Int8PackMaxRows;

    public static Tensor Forward(QuantizedWeight w, Tensor x, Tensor? bias) => Forward(w, x, bias, Int8PackRows);

    public static Tensor Forward(QuantizedWeight w, Tensor x, Tensor? bias, int int8PackMaxRows)
    {
        var scales = w.ScaleTensor ?? throw new ArgumentException("not in libtorch's layout", nameof(w));
        if (x.shape[^1] != w.InFeatures)
            throw new ArgumentException($"input has {x.shape[^1]} features, the weight {w.InFeatures}", nameof(x));
        if (w.Mode == QuantizationMode.Int4)
            return WeightOnlyScripts.Invoke("int4_mm", x, w.Data, w.GroupSize, scales, w.OutFeatures, bias);
        var rows = x.NumberOfElements / w.InFeatures;
        if (rows <= int8PackMaxRows)
            return WeightOnlyScripts.Invoke("int8_mm", x, w.Data, scales, bias);
        return WeightOnlyScripts.Invoke("int8_dequantized_mm", x, w.Data, scales, bias, Buffer(w, x));
    }

    // One buffer per thread, as large as the largest weight seen, in the activations' dtype and device; the stream
    // orders the GEMM reading it before the next layer's dequantization writes it.
    private static Tensor Buffer(QuantizedWeight w, Tensor x)
    {
        var elements = (long)w.OutFeatures * w.InFeatures;
        var same = _buffer is not null && _buffer.dtype == x.dtype && _buffer.device_type == x.device_type && _buffer.device_index == x.device_index;
        if (!same || _buffer!.NumberOfElements < elements)
        {
            var size = Math.Max(elements, same ? _buffer!.NumberOfElements : 0);
            _buffer?.Dispose();
            _buffer = torch.empty(size, x.dtype, x.device).DetachFromDisposeScope();
        }
        return _buffer!.narrow(0, 0, elements).view(w.OutFeatures, w.InFeatures);
    }

    /// <summary>The weight as float32 [out, in] on its device: what the kernels multiply by (tinygemm's weights read
    /// back through an identity product: it rounds each weight to bfloat16, as its product does).</summary>
    public static Tensor Dequantize(QuantizedWeight w)
    {
        var scales = w.ScaleTensor ?? throw new ArgumentException("not in libtorch's layout", nameof(w));
        return w.Mode == QuantizationMode.Int8
            ? WeightOnlyScripts.Invoke("int8_dequantize", w.Data, scales)
            : WeightOnlyScripts.Invoke("int4_dequantize", w.Data, w.GroupSize, scales, w.InFeatures);
    }

    private static readonly ConcurrentDictionary<(QuantizationMode, ScalarType, string, int), string?> Probes = new();

    /// <summary>
    /// Why these kernels cannot serve <paramref name="mode"/> with <paramref name="dtype"/> activations on
    /// <paramref name="device"/> (null: they can), found by running each route once on a small random weight and
    /// comparing it with the float product of the same quantized values: a libtorch without the op, a GPU without
    /// tinygemm (sm80+), or a layout the op no longer reads as this class writes it. Once per combination.
    /// </summary>
    public static string? Probe(QuantizationMode mode, ScalarType dtype, Device device, int groupSize) =>
        Probes.GetOrAdd((mode, dtype, device.ToString(), groupSize), _ => RunProbe(mode, dtype, device, groupSize));

    private static string? RunProbe(QuantizationMode mode, ScalarType dtype, Device device, int groupSize)
    {
        try
        {
            using var scope = NewDisposeScope();
            const int n = 32, k = 256;
            using var weightGenerator = new Generator(11);
            using var inputGenerator = new Generator(12);
            var weight = torch.randn([n, k], generator: weightGenerator);
            var host = Quantizer.Quantize(weight, mode, mode == QuantizationMode.Int8 ? k : groupSize);
            Tensor reference;
            QuantizedWeight w;
            try
            {
                reference = host.Dequantize();
                w = ToLibTorch(host, device);
            }
            finally
            {
                host.Data.Dispose();
            }
            try
            {
                foreach (var rows in mode == QuantizationMode.Int8 ? new[] { 1, Int8PackMaxRows + 1 } : [1, 17])
                {
                    var x = torch.randn([rows, k], generator: inputGenerator).to(dtype);
                    var y = Forward(w, x.to(device), null, Int8PackMaxRows);
                    var error = Error(y, x, reference);
                    if (!(error <= ProbeTolerance(mode, dtype)))
                        return $"libtorch's {Route(mode, rows)} on {device} gave {error:G3} of the product's scale away from the float product of the same quantized weight";
                }
                return null;
            }
            finally
            {
                w.Data.Dispose();
                w.ScaleTensor!.Dispose();
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"libtorch's weight-only kernels failed on {device} ({e.GetType().Name}: {e.Message.Split('\n')[0]})";
        }
    }

    /// <summary>Which op serves <paramref name="rows"/> activation rows.</summary>
    public static string Route(QuantizationMode mode, long rows) =>
        mode == QuantizationMode.Int4 ? "_weight_int4pack_mm" : rows <= Int8PackMaxRows ? "_weight_int8pack_mm" : "int8 dequantize + GEMM";

    /// <summary>max |y − x·Wᵀ| over max (|x|·|W|ᵀ), the float64 product of the same quantized weight.</summary>
    public static double Error(Tensor y, Tensor x, Tensor weight)
    {
        using var scope = NewDisposeScope();
        var x64 = x.to(ScalarType.Float64).reshape(-1, x.shape[^1]);
        var w64 = weight.to(ScalarType.Float64).cpu();
        var expected = x64.matmul(w64.t());
        var scale = x64.abs().matmul(w64.abs().t()).max().item<double>();
        return (y.to(ScalarType.Float64).cpu().reshape(expected.shape) - expected).abs().max().item<double>() / scale;
    }

    /// <summary>
    /// What a correct route stays under, as a fraction of max |x|·|W|ᵀ: int8 multiplies the activations as given
    /// (float32 inside the op), so only the output's rounding to the model's dtype counts (2⁻⁸ for bfloat16, 2⁻¹¹ for
    /// float16); int4 rounds the activations and each dequantized weight to bfloat16 (2⁻⁹ each) and its output to
    /// bfloat16 (2⁻⁹). A scale off by a row or a group, or nibbles read in another order, is off by O(1).
    /// </summary>
    public static double ProbeTolerance(QuantizationMode mode, ScalarType dtype) =>
        mode == QuantizationMode.Int4 ? 1e-2
        : dtype == ScalarType.Float32 ? 1e-5 : dtype == ScalarType.Float16 ? 2e-3 : 8e-3;
}
