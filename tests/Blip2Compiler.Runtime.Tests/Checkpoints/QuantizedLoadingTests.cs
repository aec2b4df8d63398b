using Blip2Compiler.Checkpoints;
using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

/// <summary>
/// The loader quantizes a weight while reading it, a few rows at a time, never holding the float weight whole: the
/// result must be the quantizer's on the whole loaded weight, bit for bit (codes and scales), for fused and scaled
/// sources and half-precision files, and a load that fails midway frees what it had quantized.
/// </summary>
public class QuantizedLoadingTests : IDisposable
{
    private const string Fc1 = "language_model.model.decoder.layers.0.fc1.weight";
    private const string Q = "language_model.model.decoder.layers.0.self_attn.q_proj.weight";
    private const string K = "language_model.model.decoder.layers.0.self_attn.k_proj.weight";
    private const string Norm = "language_model.model.decoder.layers.0.final_layer_norm.weight";

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    // fc1 has 4100 rows of 256: more than the 4096 rows of one 4 MiB read, so it is quantized in two pieces.
    private static KeyMap Map => new(
    [
        new(Fc1, [4100, 256], [new ParamSource(SourceKind.Copy, Fc1)]),
        new("qk.weight", [96, 256], [new ParamSource(SourceKind.Concat, Q, K) { Scales = [0.125, 1.0] }]),
        new(Norm, [256], [new ParamSource(SourceKind.Copy, Norm)]),
    ], []);

    private Checkpoint Write(ScalarType fileDType)
    {
        var generator = new Generator(14);
        var tensors = new Dictionary<string, Tensor>
        {
            [Fc1] = randn([4100, 256], generator: generator).to(fileDType),
            [Q] = randn([48, 256], generator: generator).to(fileDType),
            [K] = (randn([48, 256], generator: generator) * 3).to(fileDType),
            [Norm] = randn([256], generator: generator).to(fileDType),
        };
        tensors[Fc1][7].zero_();   // an all-zero row: scale 0, codes 0
        SafetensorsWriter.Write(_dir.File(Checkpoint.SingleFileName), tensors);
        foreach (var t in tensors.Values) t.Dispose();
        return Checkpoint.Open(_dir.Path);
    }

    [Theory]
    [InlineData(QuantizationMode.Int8, ScalarType.Float32, 1)]
    [InlineData(QuantizationMode.Int8, ScalarType.BFloat16, 2)]
    [InlineData(QuantizationMode.Int4, ScalarType.Float32, 2)]
    [InlineData(QuantizationMode.Int4, ScalarType.Float16, 1)]
    public void QuantizingWhileReadingEqualsQuantizingTheLoadedWeight(QuantizationMode mode, ScalarType fileDType, int parallelism)
    {
        using var checkpoint = Write(fileDType);
        var plan = new QuantizationPlan(mode);
        using var floats = CheckpointLoader.Load(checkpoint, Map, new CheckpointReadOptions { Parallelism = parallelism });
        using var quantized = CheckpointLoader.Load(checkpoint, Map, new CheckpointReadOptions { Parallelism = parallelism, Quantization = plan });

        foreach (var parameter in new[] { Fc1, "qk.weight" })
        {
            var expected = Quantizer.Quantize(floats[parameter], mode, plan.GroupSize);
            var actual = QuantizedWeights.Find(quantized[parameter]);
            Assert.NotNull(actual);
            Assert.Same(quantized[parameter], actual.Data);
            Assert.Equal(expected.Data.dtype, actual.Data.dtype);
            Assert.Equal(expected.Data.shape, actual.Data.shape);
            Assert.True(expected.Data.bytes.SequenceEqual(actual.Data.bytes), $"{parameter}: codes differ");
            Assert.Equal(expected.Scales, actual.Scales);
            expected.Data.Dispose();
        }
        var fc1 = QuantizedWeights.Find(quantized[Fc1])!;
        var groups = 256 / fc1.GroupSize;
        Assert.All(fc1.Scales.AsSpan(7 * groups, groups).ToArray(), s => Assert.Equal(0f, s));
        TensorAssert.Identical(floats[Norm], quantized[Norm]);
    }

    [Theory]
    [InlineData(QuantizationMode.Int8, 1)]
    [InlineData(QuantizationMode.Int4, 2)]
    public void FileTruncatedDuringAQuantizedLoadFailsAndFreesEverything(QuantizationMode mode, int parallelism)
    {
        var tensors = new Dictionary<string, Tensor>();
        var entries = new List<KeyMapEntry>();
        for (var i = 0; i < 8; i++)
        {
            var key = $"language_model.model.decoder.layers.{i}.fc1.weight";
            tensors[key] = randn([64, 128], generator: new Generator((ulong)i));
            entries.Add(new(key, [64, 128], [new ParamSource(SourceKind.Copy, key)]));
        }
        var path = _dir.File(Checkpoint.SingleFileName);
        SafetensorsWriter.Write(path, tensors);
        foreach (var t in tensors.Values) t.Dispose();
        using var checkpoint = Checkpoint.Open(_dir.Path);
        var cut = checkpoint.Keys.MaxBy(key => checkpoint.Info(key).DataOffset)!;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            file.SetLength(checkpoint.Info(cut).DataOffset + 100);

        var allocated = new System.Collections.Concurrent.ConcurrentBag<Tensor>();
        var options = new CheckpointReadOptions { Parallelism = parallelism, Quantization = new QuantizationPlan(mode), OnAllocated = allocated.Add };
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(checkpoint, new KeyMap(entries, []), options).Dispose());
        Assert.Contains($"tensor '{cut}'", e.Message);
        Assert.True(allocated.Count >= 2, "the quantized weights were allocated through the streaming path");
        Assert.All(allocated, t => Assert.True(t.IsInvalid, "a quantized weight of the failed load is still allocated"));
    }
}
