using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Nn.Quantization;

/// <summary>
/// Float weight [out, in] → <see cref="QuantizedWeight"/>, symmetric round-to-nearest (as bitsandbytes' int8 weights
/// and llama.cpp's Q4_0): int8 s = max|w_row| / 127, int4 s = max|w_group| / 7; q = round(w / s) clamped to the code
/// range, so |w − q·s| ≤ s / 2 for every weight. A zero row or group gets s = 0 and q = 0.
/// </summary>
public static unsafe class Quantizer
{
    /// <remarks>
    /// Written over the tensors' memory, row by row in managed code: no temporaries beside the float input and the
    /// packed output (libtorch ops made five weight-sized float temporaries, and the allocator kept them: peak RSS
    /// while loading mid in int8 was 2.1× the parameters, <c>bench/RESULTS.md</c>). The division is float32 w / s, as
    /// libtorch's, and rounding is half-to-even, as <c>torch.round</c>. Rows are independent, so the loader quantizes
    /// a checkpoint's weight a few rows at a time as it reads them (<see cref="Start"/>), with the same result.
    /// </remarks>
    public static QuantizedWeight Quantize(Tensor weight, QuantizationMode mode, int groupSize)
    {
        if (weight.dim() != 2) throw new ArgumentException($"a linear weight is 2-D, not {weight.dim()}-D", nameof(weight));
        using var scope = NewDisposeScope();
        var source = weight.dtype == ScalarType.Float32 && weight.device_type == DeviceType.CPU && weight.is_contiguous()
            ? weight : weight.to(ScalarType.Float32, torch.CPU).contiguous();
        using var builder = Start(mode, weight.shape[0], weight.shape[1], groupSize);
        builder.AddRows(new ReadOnlySpan<float>((float*)WeightOnlyMatmul.Pointer(source), checked((int)(weight.shape[0] * weight.shape[1]))));
        return builder.Finish();
    }

    /// <summary>Quantizes a weight [<paramref name="outFeatures"/>, <paramref name="inFeatures"/>] from its rows in
    /// order, a few at a time (<see cref="Rows.AddRows"/>), into a packed tensor allocated once.</summary>
    public static Rows Start(QuantizationMode mode, long outFeatures, long inFeatures, int groupSize)
    {
        var (n, k) = ((int)outFeatures, (int)inFeatures);
        if (mode == QuantizationMode.Int4 && (groupSize <= 0 || groupSize % Int4Kernels.Block != 0 || k % groupSize != 0))
            throw new ArgumentException($"int4 needs a group that is a multiple of {Int4Kernels.Block} and divides the {k} input features (group {groupSize})", nameof(groupSize));
        if (mode == QuantizationMode.None) throw new ArgumentOutOfRangeException(nameof(mode), mode, "nothing to quantize for None");
        return new Rows(mode, n, k, mode == QuantizationMode.Int8 ? k : groupSize);
    }

    /// <summary>A weight being quantized row by row; <see cref="Dispose"/> frees the packed tensor unless
    /// <see cref="Finish"/> handed it over.</summary>
    public sealed class Rows : IDisposable
    {
        private readonly QuantizationMode _mode;
        private readonly int _n, _k, _group;
        private readonly float[] _scales;
        private readonly sbyte[]? _codes;
        private Tensor? _data;
        private int _done;

        internal Rows(QuantizationMode mode, int n, int k, int group)
        {
            (_mode, _n, _k, _group) = (mode, n, k, group);
            _scales = new float[(long)n * (k / group)];
            _data = mode == QuantizationMode.Int8 ? torch.empty(n, k, ScalarType.Int8) : torch.empty(n, k / 2, ScalarType.Byte);
            _data.DetachFromDisposeScope();   // owned here until Finish hands it over, whatever scope the caller is in
            if (mode == QuantizationMode.Int4) _codes = new sbyte[k];
        }

        /// <summary>The packed tensor being filled (tests: that a failed load frees it).</summary>
        internal Tensor? Packed => _data;

        /// <summary>Rows already added.</summary>
        public int Count => _done;

        /// <summary>Quantizes the next whole rows (<paramref name="rows"/>' length is a multiple of the input size).</summary>
        public void AddRows(ReadOnlySpan<float> rows)
        {
            var data = _data ?? throw new ObjectDisposedException(nameof(Rows));
            if (rows.Length % _k != 0 || _done + rows.Length / _k > _n)
                throw new ArgumentException($"{rows.Length} floats are not whole rows of {_k} within the {_n - _done} left", nameof(rows));
            var count = rows.Length / _k;
            fixed (float* source = rows)
            {
                if (_mode == QuantizationMode.Int8)
                {
                    var q = (sbyte*)WeightOnlyMatmul.Pointer(data);
                    for (var r = 0; r < count; r++)
                        _scales[_done + r] = QuantizeRun(source + (long)r * _k, _k, 127, -127, 127, q + (long)(_done + r) * _k);
                }
                else
                {
                    var packed = (byte*)WeightOnlyMatmul.Pointer(data);
                    var groups = _k / _group;
                    fixed (sbyte* c = _codes)
                        for (var r = 0; r < count; r++)
                        {
                            var w = source + (long)r * _k;
                            for (var g = 0; g < groups; g++)
                                _scales[(long)(_done + r) * groups + g] = QuantizeRun(w + g * _group, _group, 7, -8, 7, c + g * _group);
                            // Q4_0 order: byte j of a 32-block = element j (low nibble) | element j + 16 (high nibble), as q + 8.
                            var row = packed + (long)(_done + r) * (_k / 2);
                            for (var b = 0; b < _k / Int4Kernels.Block; b++)
                                for (var j = 0; j < Int4Kernels.Block / 2; j++)
                                    row[b * (Int4Kernels.Block / 2) + j] = (byte)((c[b * Int4Kernels.Block + j] + 8) | ((c[b * Int4Kernels.Block + j + Int4Kernels.Block / 2] + 8) << 4));
                        }
                }
            }
            _done += count;
        }

        /// <summary>The quantized weight, once every row is in.</summary>
        public QuantizedWeight Finish()
        {
            var data = _data ?? throw new ObjectDisposedException(nameof(Rows));
            if (_done != _n) throw new InvalidOperationException($"{_done} of {_n} rows quantized");
            _data = null;
            return new QuantizedWeight(_mode, data, _scales, _n, _k, _group);
        }

        public void Dispose()
        {
            _data?.Dispose();
            _data = null;
        }
    }

    // s = max|w| / levels; codes round(w / s) clamped to [min, max]; an all-zero run has s = 0 and codes 0.
    private static float QuantizeRun(float* w, int count, int levels, int min, int max, sbyte* codes)
    {
        float amax = 0;
        for (var i = 0; i < count; i++) amax = MathF.Max(amax, MathF.Abs(w[i]));
        var scale = amax / levels;
        for (var i = 0; i < count; i++)
            codes[i] = scale == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(w[i] / scale, MidpointRounding.ToEven), min, max);
        return scale;
    }
}
