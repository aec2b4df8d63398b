using Blip2Compiler.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

public class CheckpointLoaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly Dictionary<string, Tensor> _stored = new(StringComparer.Ordinal);

    public void Dispose()
    {
        foreach (var t in _stored.Values) t.Dispose();
        _dir.Dispose();
    }

    private Tensor Store(string key, Tensor value) => _stored[key] = value;

    private Tensor Random(string key, params long[] shape) =>
        Store(key, torch.randn(shape, generator: new Generator((ulong)key.GetHashCode() & 0xffff)));

    private Checkpoint Save()
    {
        SafetensorsWriter.Write(_dir.File(Checkpoint.SingleFileName), _stored);
        return Checkpoint.Open(_dir.Path);
    }

    private static KeyMapEntry Copy(string parameter, long[] shape, string? key = null, bool keepFloat32 = false) =>
        new(parameter, shape, [new ParamSource(SourceKind.Copy, key ?? parameter)], keepFloat32);

    private static CheckpointMismatchException Mismatch(Checkpoint checkpoint, KeyMap map, CheckpointReadOptions? options = null) =>
        Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.Load(checkpoint, map, options ?? new CheckpointReadOptions()).Dispose());

    [Fact]
    public void ScaledSourcesMultiplyEachKeyAtLoadAndLeaveTheFileAlone()
    {
        var q = Random("q.weight", 2, 4);
        var k = Random("k.weight", 2, 4);
        var o = Random("o.weight", 4, 4);
        using var checkpoint = Save();
        var map = new KeyMap(
        [
            new("qk.weight", [4, 4], [new ParamSource(SourceKind.Concat, "q.weight", "k.weight") { Scales = [8.0, 1.0] }]),
            new("o.weight", [4, 4], [new ParamSource(SourceKind.Copy, "o.weight") { Scales = [0.5] }]),
        ], []);

        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions());
        TensorAssert.Identical(torch.cat([q * 8.0, k], 0), loaded["qk.weight"]);
        TensorAssert.Identical(o * 0.5, loaded["o.weight"]);
        TensorAssert.Identical(q, checkpoint.Load("q.weight", null, torch.CPU));   // the file is untouched

        Assert.Throws<ArgumentException>(() => new KeyMap([new("x", [2, 4], [new ParamSource(SourceKind.Copy, "q.weight") { Scales = [1.0, 2.0] }])], []));
        Assert.Throws<ArgumentException>(() => new KeyMap([new("x", [2, 4], [new ParamSource(SourceKind.Copy, "q.weight") { Scales = [double.NaN] }])], []));
    }

    [Fact]
    public void CopiesParametersUnderTheirOwnNames()
    {
        var w = Random("layer.weight", 3, 4);
        var b = Random("layer.bias", 3);
        using var checkpoint = Save();
        var map = new KeyMap([Copy("fc.weight", [3, 4], "layer.weight"), Copy("fc.bias", [3], "layer.bias")], []);

        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions());
        Assert.Equal(2, loaded.Count);
        TensorAssert.Identical(w, loaded["fc.weight"]);
        TensorAssert.Identical(b, loaded["fc.bias"]);
        Assert.Equal("layer.weight", loaded.Report.Used["fc.weight"].Keys[0]);
        Assert.Empty(loaded.Report.Unexpected);
    }

    [Fact]
    public void ConcatFusesOnDimZero()
    {
        var q = Random("q.weight", 4, 3);
        var k = Random("k.weight", 4, 3);
        var v = Random("v.weight", 2, 3);
        using var checkpoint = Save();
        var map = new KeyMap([new KeyMapEntry("qkv.weight", [10, 3], [new ParamSource(SourceKind.Concat, "q.weight", "k.weight", "v.weight")])], []);

        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions());
        using var expected = torch.cat([q, k, v], 0);
        TensorAssert.Identical(expected, loaded["qkv.weight"]);
    }

    /// <summary>
    /// Fused parameters written key by key into their slices equal what the loader built before, by libtorch:
    /// <c>cat</c> of each key converted (and scaled) on its own — in every target dtype, with the parts in different
    /// shards, with one and with several loader threads.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float32, 1)]
    [InlineData(ScalarType.Float32, 3)]
    [InlineData(ScalarType.BFloat16, 2)]
    [InlineData(ScalarType.Float16, 2)]
    public void FusedSlicesEqualTheConcatenation(ScalarType dtype, int parallelism)
    {
        var q = Random("q.weight", 40, 24);
        var k = Random("k.weight", 40, 24);
        var v = Random("v.weight", 40, 24);
        var qb = Random("attn.q_bias", 24);
        var vb = Random("attn.v_bias", 24);
        var wide = Random("wide.weight", 3, 1000);
        SafetensorsWriter.WriteSharded(_dir.Path, _stored, maxShardBytes: 8000);
        using var checkpoint = Checkpoint.Open(_dir.Path);
        Assert.True(checkpoint.Files.Count >= 3);
        var map = new KeyMap(
        [
            new("qkv.weight", [120, 24], [new ParamSource(SourceKind.Concat, "q.weight", "k.weight", "v.weight") { Scales = [8.0, 1.0, 1.0] }]),
            new("qkv.bias", [72], [new ParamSource(SourceKind.QkvBias, "attn.q_bias", "attn.v_bias")]),
            new("wide.weight", [3, 1000], [new ParamSource(SourceKind.Copy, "wide.weight") { Scales = [0.125] }]),
        ], []);

        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions(dtype) { Parallelism = parallelism });
        using var scope = torch.NewDisposeScope();
        TensorAssert.Identical(torch.cat([q.to(dtype).mul(8.0), k.to(dtype), v.to(dtype)], 0), loaded["qkv.weight"]);
        TensorAssert.Identical(torch.cat([qb.to(dtype), torch.zeros_like(vb.to(dtype)), vb.to(dtype)], 0), loaded["qkv.bias"]);
        TensorAssert.Identical(wide.to(dtype).mul(0.125), loaded["wide.weight"]);
    }

    /// <summary>
    /// A file cut short after its header was read (replaced or truncated while loading) fails the load with a format
    /// error naming the file and the tensor, and frees every parameter it had allocated.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float32, 1)]
    [InlineData(ScalarType.BFloat16, 2)]
    public void FileTruncatedDuringTheLoadFailsAndFreesEverything(ScalarType dtype, int parallelism)
    {
        var entries = new List<KeyMapEntry>();
        for (var i = 0; i < 12; i++)
        {
            Random($"layer{i}.weight", 64, 64);
            entries.Add(Copy($"layer{i}.weight", [64, 64]));
        }
        using var checkpoint = Save();
        var path = _dir.File(Checkpoint.SingleFileName);
        var cut = checkpoint.Keys.MaxBy(key => checkpoint.Info(key).DataOffset)!;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            file.SetLength(checkpoint.Info(cut).DataOffset + 100);

        var allocated = new System.Collections.Concurrent.ConcurrentBag<Tensor>();
        var options = new CheckpointReadOptions(dtype) { Parallelism = parallelism, OnAllocated = allocated.Add };
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(checkpoint, new KeyMap(entries, []), options).Dispose());
        Assert.Equal(path, e.File);
        Assert.Contains($"tensor '{cut}'", e.Message);
        Assert.Contains("truncated since it was opened", e.Message);
        Assert.NotEmpty(allocated);
        Assert.All(allocated, t => Assert.True(t.IsInvalid, "a parameter of the failed load is still allocated"));
    }

    private static KeyMap QkvBiasMap => new([new KeyMapEntry("attn.qkv.bias", [12],
        [new ParamSource(SourceKind.Copy, "attn.qkv.bias"), new ParamSource(SourceKind.QkvBias, "attn.q_bias", "attn.v_bias")])], []);

    [Fact]
    public void QkvBiasInsertsZerosForTheKey()
    {
        var q = Random("attn.q_bias", 4);
        var v = Random("attn.v_bias", 4);
        using var checkpoint = Save();

        using var loaded = CheckpointLoader.Load(checkpoint, QkvBiasMap, new CheckpointReadOptions());
        using var zeros = torch.zeros(4);
        using var expected = torch.cat([q, zeros, v], 0);
        TensorAssert.Identical(expected, loaded["attn.qkv.bias"]);
        Assert.Equal(SourceKind.QkvBias, loaded.Report.Used["attn.qkv.bias"].Kind);
    }

    [Fact]
    public void FirstSatisfiedAlternativeWins()
    {
        var fused = Random("attn.qkv.bias", 12);
        using var checkpoint = Save();
        using var loaded = CheckpointLoader.Load(checkpoint, QkvBiasMap, new CheckpointReadOptions());
        TensorAssert.Identical(fused, loaded["attn.qkv.bias"]);
        Assert.Equal(SourceKind.Copy, loaded.Report.Used["attn.qkv.bias"].Kind);
    }

    [Fact]
    public void KeepFloat32StaysFloat32UnderFloat16()
    {
        var w = Random("w", 2, 3);
        var norm = Random("norm.weight", 3);
        using var checkpoint = Save();
        var map = new KeyMap([Copy("w", [2, 3]), Copy("norm.weight", [3], keepFloat32: true)], []);

        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions(ScalarType.Float16));
        using var half = w.to(ScalarType.Float16);
        TensorAssert.Identical(half, loaded["w"]);
        TensorAssert.Identical(norm, loaded["norm.weight"]);
    }

    [Fact]
    public void BFloat16ConvertsFromFloat16Storage()
    {
        var w = Store("w", torch.randn(5, 2, generator: new Generator(5)).to(ScalarType.Float16));
        using var checkpoint = Save();
        Assert.Equal(ScalarType.Float16, checkpoint.Info("w").DType);

        using var loaded = CheckpointLoader.Load(checkpoint, new KeyMap([Copy("w", [5, 2])], []), new CheckpointReadOptions(ScalarType.BFloat16));
        using var expected = w.to(ScalarType.BFloat16);
        TensorAssert.Identical(expected, loaded["w"]);
    }

    [Fact]
    public void MissingParameterIsNamedWithWhatWasTried()
    {
        Random("attn.q_bias", 4);
        using var checkpoint = Save();
        var e = Mismatch(checkpoint, QkvBiasMap);
        Assert.Contains("1 missing parameter: attn.qkv.bias (tried attn.qkv.bias | qkv_bias(attn.q_bias, attn.v_bias))", e.Message);
        Assert.Contains(checkpoint.Source, e.Message);
        Assert.Equal("attn.qkv.bias", Assert.Single(e.Report.Missing).Parameter);
        // The lone q_bias was not consumed by anything.
        Assert.Equal(["attn.q_bias"], e.Report.Unexpected);
    }

    [Fact]
    public void UnexpectedKeyFailsOnlyWhenStrict()
    {
        var w = Random("w", 2);
        Random("stray.weight", 2);
        using var checkpoint = Save();
        var map = new KeyMap([Copy("w", [2])], []);

        var e = Mismatch(checkpoint, map);
        Assert.Contains("1 unexpected checkpoint key: stray.weight", e.Message);
        Assert.Equal(["stray.weight"], e.Report.Unexpected);

        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions(Strict: false));
        TensorAssert.Identical(w, loaded["w"]);
        Assert.Equal(["stray.weight"], loaded.Report.Unexpected);
    }

    [Fact]
    public void IgnoredKeysByNameAndPrefix()
    {
        Random("w", 2);
        Random("lm_head.weight", 2);
        Store("embeddings.position_ids", torch.arange(4));
        Store("other.position_ids", torch.arange(4));
        using var checkpoint = Save();
        var map = new KeyMap([Copy("w", [2])], ["lm_head.weight", "embeddings.*"]);

        var e = Mismatch(checkpoint, map);
        Assert.Equal(["other.position_ids"], e.Report.Unexpected);
        Assert.Equal(["embeddings.position_ids", "lm_head.weight"], e.Report.Ignored);
    }

    [Fact]
    public void WrongShapeReportsExpectedAndFound()
    {
        Random("w", 3, 4);
        Random("q", 2, 4);
        Random("k", 2, 5);
        using var checkpoint = Save();
        var map = new KeyMap([Copy("w", [4, 3]), new KeyMapEntry("qk", [4, 4], [new ParamSource(SourceKind.Concat, "q", "k")])], []);

        var e = Mismatch(checkpoint, map);
        Assert.Contains("2 mis-shaped parameters", e.Message);
        Assert.Contains("w: expected [4, 3], found [3, 4] from w [3, 4]", e.Message);
        Assert.Contains("qk: expected [4, 4], found incompatible from q [2, 4] + k [2, 5]", e.Message);
        var w = e.Report.MisShaped.Single(m => m.Parameter == "w");
        Assert.Equal([4L, 3], w.Expected);
        Assert.Equal([3L, 4], w.Found!);
    }

    [Fact]
    public void IntegerSourceIsAnUnsupportedDType()
    {
        Store("w", torch.arange(6).reshape(2, 3));
        using var checkpoint = Save();
        var e = Mismatch(checkpoint, new KeyMap([Copy("w", [2, 3])], []));
        Assert.Contains("1 unsupported dtype: w is Int64", e.Message);
        Assert.Single(e.Report.UnsupportedDTypes);
    }

    [Fact]
    public void MessageNamesTheFirstFewAndCounts()
    {
        Random("present", 1);
        using var checkpoint = Save();
        var entries = Enumerable.Range(0, 7).Select(i => Copy($"p{i}", [1])).Append(Copy("present", [1])).ToList();
        var e = Mismatch(checkpoint, new KeyMap(entries, []));
        // More than three of a kind: names alone, then the count of the rest; every one stays on the exception.
        Assert.Contains("7 missing parameters: p0, p1, p2 and 4 more", e.Message);
        Assert.Equal(7, e.Report.Missing.Count);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"p{i}"), e.MissingParameters);
    }

    [Fact]
    public void UnsupportedTargetDType()
    {
        Random("w", 2);
        using var checkpoint = Save();
        var e = Assert.Throws<UnsupportedDTypeException>(() =>
            CheckpointLoader.Load(checkpoint, new KeyMap([Copy("w", [2])], []), new CheckpointReadOptions(ScalarType.Int8)));
        Assert.Contains("Int8", e.Message);
    }

    [Fact]
    public void TakeMarksAParameterUsedAndTheSetKeepsOwningIt()
    {
        var w = Random("w", 2);
        Random("b", 3);
        using var checkpoint = Save();
        var loaded = CheckpointLoader.Load(checkpoint, new KeyMap([Copy("w", [2]), Copy("b", [3])], []), new CheckpointReadOptions());
        var taken = loaded.Take("w");
        TensorAssert.Identical(w, taken);
        Assert.Same(loaded["w"], taken);
        Assert.Equal(2, loaded.Count);
        Assert.Contains("b", Assert.Throws<InvalidOperationException>(loaded.EnsureAllTaken).Message);
        loaded.Take("b");
        loaded.EnsureAllTaken();
        Assert.Contains("'c'", Assert.Throws<InvalidOperationException>(() => loaded.Take("c")).Message);

        loaded.Dispose();
        Assert.True(taken.IsInvalid, "the set frees the parameters it handed out");
        Assert.Empty(loaded);
    }

    [Fact]
    public void KeyMapRejectsMalformedSources()
    {
        Assert.Throws<ArgumentException>(() => new KeyMap([new KeyMapEntry("b", [3], [new ParamSource(SourceKind.QkvBias, "q")])], []));
        Assert.Throws<ArgumentException>(() => new KeyMap([Copy("w", [1]), Copy("w", [1])], []));
    }
}
