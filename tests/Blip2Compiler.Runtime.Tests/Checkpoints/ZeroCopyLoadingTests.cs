using Blip2Compiler.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

/// <summary>
/// Zero-copy loads (<see cref="CheckpointReadOptions.ZeroCopy"/>): a parameter the file holds in its own dtype, unfused and
/// unscaled, is a private mapping of the file, seen in /proc/self/maps while the tensor lives and gone when it is freed
/// or the load fails; everything else is read as before; writes never reach the file.
/// </summary>
public class ZeroCopyLoadingTests : IDisposable
{
    private const int Side = 512;   // 512 × 512 float32: 1 MiB, the smallest tensor that is mapped

    private readonly TempDirectory _dir = new();
    private readonly Dictionary<string, Tensor> _stored = new(StringComparer.Ordinal);

    public void Dispose()
    {
        foreach (var t in _stored.Values) t.Dispose();
        _dir.Dispose();
    }

    private string FilePath => _dir.File(Checkpoint.SingleFileName);

    private Tensor Random(string key, ScalarType dtype, params long[] shape) =>
        _stored[key] = torch.randn(shape, generator: new Generator((ulong)_stored.Count + 1)).to(dtype);

    private Checkpoint Save()
    {
        SafetensorsWriter.Write(FilePath, _stored);
        return Checkpoint.Open(_dir.Path);
    }

    /// <summary>This process's mappings of <paramref name="path"/> (also once it is deleted or renamed over).</summary>
    private static int MappingsOf(string path) =>
        File.ReadLines("/proc/self/maps").Count(l => l.EndsWith(" " + path, StringComparison.Ordinal) || l.EndsWith(" " + path + " (deleted)", StringComparison.Ordinal));

    private static KeyMapEntry Copy(string key, long[] shape, bool keepFloat32 = false) =>
        new(key, shape, [new ParamSource(SourceKind.Copy, key)], keepFloat32);

    private static KeyMap FusedAndPlain => new(
    [
        Copy("big.weight", [Side, Side]),
        new("qk.weight", [Side, Side], [new ParamSource(SourceKind.Concat, "q.weight", "k.weight")]),
        new("scaled.weight", [Side, Side], [new ParamSource(SourceKind.Copy, "scaled.weight") { Scales = [0.5] }]),
        Copy("small.bias", [Side]),
    ], []);

    private void StoreFusedAndPlain()
    {
        Random("big.weight", ScalarType.Float32, Side, Side);
        Random("q.weight", ScalarType.Float32, Side / 2, Side);
        Random("k.weight", ScalarType.Float32, Side / 2, Side);
        Random("scaled.weight", ScalarType.Float32, Side, Side);
        Random("small.bias", ScalarType.Float32, Side);
    }

    [Fact]
    public void OnlyTheUnfusedUnscaledParameterIsMappedAndItsMappingEndsWithIt()
    {
        StoreFusedAndPlain();
        using var checkpoint = Save();
        var loaded = CheckpointLoader.Load(checkpoint, FusedAndPlain, new CheckpointReadOptions { Parallelism = 2 });
        try
        {
            Assert.Equal(1, MappingsOf(FilePath));
            using var scope = torch.NewDisposeScope();
            TensorAssert.Identical(_stored["big.weight"], loaded["big.weight"]);
            TensorAssert.Identical(torch.cat([_stored["q.weight"], _stored["k.weight"]], 0), loaded["qk.weight"]);
            TensorAssert.Identical(_stored["scaled.weight"] * 0.5, loaded["scaled.weight"]);
            TensorAssert.Identical(_stored["small.bias"], loaded["small.bias"]);
        }
        finally
        {
            loaded.Dispose();
        }
        Assert.Equal(0, MappingsOf(FilePath));
    }

    [Fact]
    public void ZeroCopyOffMapsNothing()
    {
        StoreFusedAndPlain();
        using var checkpoint = Save();
        using var loaded = CheckpointLoader.Load(checkpoint, FusedAndPlain, new CheckpointReadOptions { ZeroCopy = false });
        Assert.Equal(0, MappingsOf(FilePath));
        TensorAssert.Identical(_stored["big.weight"], loaded["big.weight"]);
    }

    /// <summary>In a half-precision load the float32-kept parameter is the file's float32 and is mapped; the converted
    /// one is read; a float16 file loaded in float16 is mapped.</summary>
    [Fact]
    public void HalfPrecisionLoadsMapWhatNeedsNoConversion()
    {
        Random("kept.weight", ScalarType.Float32, Side, Side);
        Random("converted.weight", ScalarType.Float32, Side, Side);
        Random("half.weight", ScalarType.Float16, Side, 2 * Side);
        using var checkpoint = Save();
        var map = new KeyMap([Copy("kept.weight", [Side, Side], keepFloat32: true), Copy("converted.weight", [Side, Side]), Copy("half.weight", [Side, 2 * Side])], []);
        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions(ScalarType.Float16));
        Assert.Equal(2, MappingsOf(FilePath));
        using var scope = torch.NewDisposeScope();
        TensorAssert.Identical(_stored["kept.weight"], loaded["kept.weight"]);
        TensorAssert.Identical(_stored["converted.weight"].to(ScalarType.Float16), loaded["converted.weight"]);
        TensorAssert.Identical(_stored["half.weight"], loaded["half.weight"]);
    }

    /// <summary>A conversion writes its parameter a populated piece at a time (<see cref="FreshPages"/>): the result
    /// is libtorch's conversion of the stored tensor, bit for bit, for tensors spanning many pieces, at an offset that
    /// is not a page boundary, and fused into slices, with zero copy on or off; a converted parameter maps nothing.</summary>
    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void ConversionsInPopulatedPiecesEqualLibtorchsAndMapNothing(ScalarType dtype)
    {
        Random("a.odd", ScalarType.Float32, 3);   // first in the file: every tensor after it starts inside a page
        Random("big.weight", ScalarType.Float32, 4 * Side, 2 * Side);   // 4 MiB: several 1 MiB pieces
        Random("q.weight", ScalarType.Float32, Side, Side);
        Random("k.weight", ScalarType.Float32, Side, Side);
        using var checkpoint = Save();
        Assert.NotEqual(0, checkpoint.Info("big.weight").DataOffset % Environment.SystemPageSize);
        var map = new KeyMap(
        [
            Copy("a.odd", [3]), Copy("big.weight", [4 * Side, 2 * Side]),
            new("qk.weight", [2 * Side, Side], [new ParamSource(SourceKind.Concat, "q.weight", "k.weight")]),
        ], []);
        using var mapped = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions(dtype) { Parallelism = 2 });
        Assert.Equal(0, MappingsOf(FilePath));
        using var read = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions(dtype) { ZeroCopy = false });
        using var scope = torch.NewDisposeScope();
        TensorAssert.Identical(_stored["big.weight"].to(dtype), mapped["big.weight"]);
        TensorAssert.Identical(torch.cat([_stored["q.weight"], _stored["k.weight"]], 0).to(dtype), mapped["qk.weight"]);
        TensorAssert.Identical(_stored["a.odd"].to(dtype), mapped["a.odd"]);
        foreach (var key in new[] { "a.odd", "big.weight", "qk.weight" }) TensorAssert.Identical(read[key], mapped[key]);
    }

    /// <summary>A parameter read in its own dtype is read a populated piece at a time too (<see cref="FreshPages"/>):
    /// the file's bytes exactly, for a tensor of several pieces at an offset inside a page, and fused.</summary>
    [Fact]
    public void SameDtypeReadsInPopulatedPiecesAreTheFilesBytes()
    {
        Random("a.odd", ScalarType.Float32, 3);
        Random("big.weight", ScalarType.Float32, 4 * Side + 1, 2 * Side);   // 4 MiB and a row: a last, partial piece
        Random("q.weight", ScalarType.Float32, Side, Side);
        Random("k.weight", ScalarType.Float32, Side, Side);
        using var checkpoint = Save();
        var map = new KeyMap(
        [
            Copy("big.weight", [4 * Side + 1, 2 * Side]),
            new("qk.weight", [2 * Side, Side], [new ParamSource(SourceKind.Concat, "q.weight", "k.weight")]),
        ], ["a.odd"]);
        using var read = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions { ZeroCopy = false, Parallelism = 2 });
        using var scope = torch.NewDisposeScope();
        TensorAssert.Identical(_stored["big.weight"], read["big.weight"]);
        TensorAssert.Identical(torch.cat([_stored["q.weight"], _stored["k.weight"]], 0), read["qk.weight"]);
    }

    [Fact]
    public void WritingAMappedParameterChangesItAloneNotTheFile()
    {
        Random("big.weight", ScalarType.Float32, Side, Side);
        using var checkpoint = Save();
        using var loaded = CheckpointLoader.Load(checkpoint, new KeyMap([Copy("big.weight", [Side, Side])], []), new CheckpointReadOptions());
        Assert.Equal(1, MappingsOf(FilePath));
        loaded["big.weight"].mul_(2);
        using var scope = torch.NewDisposeScope();
        TensorAssert.Identical(_stored["big.weight"] * 2, loaded["big.weight"]);
        using var again = Checkpoint.Open(FilePath);
        TensorAssert.Identical(_stored["big.weight"], again.Load("big.weight"), "the file's tensor");
    }

    /// <summary>A file replaced by a rename (as downloads and savers that write a temporary file do) keeps the old
    /// inode alive under the mapping: the loaded weights stay the old ones.</summary>
    [Fact]
    public void AFileReplacedByARenameLeavesTheLoadedWeightsAlone()
    {
        Random("big.weight", ScalarType.Float32, Side, Side);
        using var checkpoint = Save();
        using var loaded = CheckpointLoader.Load(checkpoint, new KeyMap([Copy("big.weight", [Side, Side])], []), new CheckpointReadOptions());
        var replacement = _dir.File("replacement.safetensors");
        using (var zeros = torch.zeros(Side, Side))
            SafetensorsWriter.Write(replacement, new Dictionary<string, Tensor> { ["big.weight"] = zeros });
        File.Move(replacement, FilePath, overwrite: true);
        TensorAssert.Identical(_stored["big.weight"], loaded["big.weight"]);
        Assert.Equal(1, MappingsOf(FilePath));
    }

    /// <summary>A torch.save archive stores each storage uncompressed: a contiguous tensor is mapped as in safetensors;
    /// a strided view of a storage is read through its strides. (torch.save aligns every storage to 64 bytes; the test
    /// writer does not, so the archive's folder name is lengthened until the storage is float-aligned.)</summary>
    [Fact]
    public void TorchSaveArchivesMapTheirContiguousTensors()
    {
        var weight = Random("weight", ScalarType.Float32, Side, Side);
        var path = _dir.File(Checkpoint.PyTorchFileName);
        using var storage = weight.reshape(-1);
        Checkpoint? checkpoint = null;
        for (var folder = "archive"; checkpoint is null; folder += "x")
        {
            TorchSaveWriter.Write(path, new Dictionary<string, Tensor> { ["0"] = storage },
                [new TorchSaveWriter.View("weight", "0", 0, [Side, Side], [Side, 1]), new TorchSaveWriter.View("weight_t", "0", 0, [Side, Side], [1, Side])], folder);
            checkpoint = Checkpoint.Open(_dir.Path);
            if (checkpoint.Info("weight").DataOffset % sizeof(float) == 0) break;
            checkpoint.Dispose();
            checkpoint = null;
        }
        using var opened = checkpoint!;
        using var loaded = CheckpointLoader.Load(opened, new KeyMap([Copy("weight", [Side, Side]), Copy("weight_t", [Side, Side])], []), new CheckpointReadOptions());
        Assert.Equal(1, MappingsOf(path));
        using var scope = torch.NewDisposeScope();
        TensorAssert.Identical(weight, loaded["weight"]);
        TensorAssert.Identical(weight.t(), loaded["weight_t"]);
    }

    /// <summary>A file cut short after its header was read fails a zero-copy load as it fails a read (the same error),
    /// and no mapping of it is left, nor any parameter.</summary>
    [Theory]
    [InlineData(1, ScalarType.Float32)]
    [InlineData(2, ScalarType.Float32)]
    [InlineData(1, ScalarType.BFloat16)]   // converted, into populated pieces (FreshPages)
    [InlineData(2, ScalarType.Float16)]
    public void FileTruncatedBeforeAMappedTensorFailsAndUnmapsEverything(int parallelism, ScalarType dtype)
    {
        var entries = new List<KeyMapEntry>();
        for (var i = 0; i < 6; i++)
        {
            Random($"layer{i}.weight", ScalarType.Float32, Side, Side);
            entries.Add(Copy($"layer{i}.weight", [Side, Side]));
        }
        using var checkpoint = Save();
        var cut = checkpoint.Keys.MaxBy(key => checkpoint.Info(key).DataOffset)!;
        using (var file = new FileStream(FilePath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            file.SetLength(checkpoint.Info(cut).DataOffset + 100);

        var allocated = new System.Collections.Concurrent.ConcurrentBag<Tensor>();
        var options = new CheckpointReadOptions(dtype) { Parallelism = parallelism, OnAllocated = allocated.Add };
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(checkpoint, new KeyMap(entries, []), options).Dispose());
        Assert.Equal(FilePath, e.File);
        Assert.Contains($"tensor '{cut}'", e.Message);
        Assert.Contains("truncated since it was opened", e.Message);
        Assert.All(allocated, t => Assert.True(t.IsInvalid, "a parameter of the failed load is still allocated"));
        Assert.Equal(0, MappingsOf(FilePath));
    }
}
