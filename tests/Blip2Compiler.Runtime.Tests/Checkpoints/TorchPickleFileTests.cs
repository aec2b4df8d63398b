using System.Text;
using Blip2Compiler.Checkpoints;
using Blip2Compiler.Checkpoints.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

/// <summary>torch.save's zip format: real torch-saved files, files written from the spec, and each kind of damage.</summary>
public class TorchPickleFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Torch(string name) => Path.Combine(Fixtures.Root, "torch", name);

    [Fact]
    public void ARealTorchSavedDictEqualsItsSafetensorsTwin()
    {
        using var pickled = Checkpoint.Open(Torch("tensors.pth"));
        using var safetensors = Checkpoint.Open(Torch("tensors.safetensors"));
        Assert.Equal(safetensors.Keys.Order(), pickled.Keys.Order());
        foreach (var key in safetensors.Keys)
        {
            using var expected = safetensors.Load(key);
            using var actual = pickled.Load(key);
            TensorAssert.Identical(expected, actual, key);
        }
        using var arr2d = pickled.Load("arr_2d");
        Assert.Equal([2L, 3], arr2d.shape);
        Assert.Equal(6L, arr2d[1, 2].item<long>());
    }

    [Fact]
    public void ARealTorchSavedStateDictWithMetadataIsRead()
    {
        // An OrderedDict with _metadata set by BUILD, as module.state_dict() is saved.
        using var checkpoint = Checkpoint.Open(Torch("module_load.pth"));
        Assert.Equal(["lin1.weight", "lin2.weight"], checkpoint.Keys.Order());
        Assert.Equal([1L, 5], checkpoint.Info("lin1.weight").Shape);
        Assert.Equal([2L, 1], checkpoint.Info("lin2.weight").Shape);
        using var lin1 = checkpoint.Load("lin1.weight");
        using var ones = torch.ones(1, 5);
        TensorAssert.Identical(ones, lin1);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void WrittenTensorsReadBackAsStoredAndConverted(ScalarType stored)
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["a.weight"] = torch.randn(new long[] { 33, 7 }, generator: new Generator(1)).to_type(stored),
            ["a.bias"] = torch.randn(new long[] { 7 }, generator: new Generator(2)).to_type(stored),
            ["scalar"] = torch.tensor(3.5f).to_type(stored),
            ["empty"] = torch.empty(0, 4).to_type(stored),
        };
        var path = _dir.File("pytorch_model.bin");
        TorchSaveWriter.Write(path, tensors);

        using var checkpoint = Checkpoint.Open(_dir.Path);
        Assert.Equal([path], checkpoint.Files);
        foreach (var (key, expected) in tensors)
        {
            using var asStored = checkpoint.Load(key);
            TensorAssert.Identical(expected, asStored, key);
            foreach (var to in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16 })
            {
                using var converted = checkpoint.Load(key, to);
                using var reference = expected.to_type(to);
                TensorAssert.Identical(reference, converted, $"{key} as {to}");
            }
        }
    }

    [Fact]
    public void ViewsOfSharedAndStridedStoragesReadAsTorchWouldBuildThem()
    {
        using var storage = torch.arange(0, 24, dtype: ScalarType.Float32);
        var path = _dir.File("views.bin");
        TorchSaveWriter.Write(path, new Dictionary<string, Tensor> { ["0"] = storage },
        [
            new("whole", "0", 0, [4, 6], [6, 1]),
            new("transposed", "0", 0, [6, 4], [1, 6]),        // whole.t()
            new("tail", "0", 12, [2, 6], [6, 1]),             // whole[2:]: shares the storage at an offset
            new("column", "0", 1, [4, 1], [6, 1]),             // whole[:, 1:2]
        ]);
        using var checkpoint = Checkpoint.Open(path);
        using var whole = storage.view(4, 6);
        foreach (var (key, expected) in new[] { ("whole", whole), ("transposed", whole.t()), ("tail", whole[2..]), ("column", whole[.., 1..2]) })
        {
            using var actual = checkpoint.Load(key);
            TensorAssert.Identical(expected.contiguous(), actual, key);
            using var bf16 = checkpoint.Load(key, ScalarType.BFloat16);
            TensorAssert.Identical(expected.to_type(ScalarType.BFloat16), bf16, key + " as bfloat16");
        }
    }

    [Fact]
    public void ShardsListedByAPyTorchIndexAreRead()
    {
        using var a = torch.ones(4, 4);
        using var b = torch.full(3, 2f);
        TorchSaveWriter.Write(_dir.File("pytorch_model-00001-of-00002.bin"), new Dictionary<string, Tensor> { ["a"] = a });
        TorchSaveWriter.Write(_dir.File("pytorch_model-00002-of-00002.bin"), new Dictionary<string, Tensor> { ["b"] = b });
        File.WriteAllText(_dir.File(Checkpoint.PyTorchIndexFileName),
            """{"metadata": {"total_size": 76}, "weight_map": {"a": "pytorch_model-00001-of-00002.bin", "b": "pytorch_model-00002-of-00002.bin"}}""");
        using var checkpoint = Checkpoint.Open(_dir.Path);
        Assert.Equal(2, checkpoint.Files.Count);
        using var loadedB = checkpoint.Load("b");
        TensorAssert.Identical(b, loadedB);
    }

    [Fact]
    public void SafetensorsIsPreferredOverPyTorchWeightsInAFolder()
    {
        using var a = torch.ones(2);
        TorchSaveWriter.Write(_dir.File(Checkpoint.PyTorchFileName), new Dictionary<string, Tensor> { ["from_bin"] = a });
        SafetensorsWriter.Write(_dir.File(Checkpoint.SingleFileName), new Dictionary<string, Tensor> { ["from_safetensors"] = a });
        using var checkpoint = Checkpoint.Open(_dir.Path);
        Assert.Equal(["from_safetensors"], checkpoint.Keys);
    }

    // ---- damage ----

    private string WriteOne(Func<byte[], byte[]>? editPickle = null, long? numel = null, long offset = 0)
    {
        using var w = torch.ones(2, 3);
        var path = _dir.File($"f{Guid.NewGuid():N}.bin");
        var storages = new Dictionary<string, Tensor> { ["0"] = w.reshape(-1) };
        TorchSaveWriter.Write(path, storages, [new("w", "0", offset, [2, 3], [3, 1])], editPickle: bytes =>
        {
            if (numel is { } n) bytes = Replace(bytes, [(byte)'K', 6, (byte)'t'], [(byte)'K', (byte)n, (byte)'t']);
            return editPickle is null ? bytes : editPickle(bytes);
        });
        return path;
    }

    private static byte[] Replace(byte[] bytes, byte[] from, byte[] to)
    {
        var at = bytes.AsSpan().IndexOf(from);
        Assert.True(at >= 0, "the pattern to damage is not in the pickle");
        return [.. bytes[..at], .. to, .. bytes[(at + from.Length)..]];
    }

    private static CheckpointFormatException OpenFails(string path, params string[] fragments)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(path).Dispose());
        Assert.Equal(path, e.File);
        foreach (var fragment in fragments) Assert.Contains(fragment, e.Message);
        return e;
    }

    [Fact]
    public void AnUndamagedFileOpens()
    {
        using var checkpoint = Checkpoint.Open(WriteOne());
        Assert.Equal([2L, 3], checkpoint.Info("w").Shape);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.98)]
    public void ATruncatedArchiveIsAFormatError(double kept)
    {
        var path = WriteOne();
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * kept)]);
        OpenFails(path, "zip end-of-directory", "truncated");
    }

    [Fact]
    public void AnOpcodeOutsideTheStateDictSetIsNamed()
    {
        // NEWOBJ (0x81): builds an object by calling its class.
        var path = WriteOne(p => [.. p[..2], 0x81, .. p[2..]]);
        OpenFails(path, "data.pkl", "opcode 0x81 (NEWOBJ)", "byte 2");
        var garbage = WriteOne(p => [.. p[..2], 0xff, .. p[2..]]);
        OpenFails(garbage, "opcode 0xff (unknown)");
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("torch", "load")]
    [InlineData("__torch__.Model", "forward")]
    public void AGlobalATensorStateDictDoesNotNeedIsRefusedByName(string module, string name)
    {
        // The classic payload: cos\nsystem\n(S'…'\ntR. — refused when the global is read, before any call.
        var path = WriteOne(p => [.. p[..2], .. Encoding.ASCII.GetBytes($"c{module}\n{name}\n"), (byte)'0', .. p[2..]]);
        var e = Assert.Throws<PickleGlobalNotAllowedException>(() => Checkpoint.Open(path).Dispose());
        Assert.Equal(path, e.File);
        Assert.Equal($"{module}.{name}", e.Global);
        Assert.Contains($"'{module}.{name}'", e.Message);
        Assert.Contains("torch._utils._rebuild_tensor_v2", e.Message);
    }

    [Fact]
    public void AGlobalBySTACK_GLOBALIsRefusedToo()
    {
        byte[] stackGlobal = [0x8c, 5, .. "posix"u8, 0x8c, 6, .. "system"u8, 0x93, (byte)'0'];
        var e = Assert.Throws<PickleGlobalNotAllowedException>(() => Checkpoint.Open(WriteOne(p => [.. p[..2], .. stackGlobal, .. p[2..]])).Dispose());
        Assert.Equal("posix.system", e.Global);
    }

    [Fact]
    public void AStorageWhoseRecordHasAnotherSizeIsNamed() =>
        OpenFails(WriteOne(numel: 7), "tensor 'w'", "7 × Float32 = 28 bytes", "holds 24");

    [Fact]
    public void AViewBeyondItsStorageIsNamed() =>
        OpenFails(WriteOne(editPickle: p => Replace(p, [(byte)'Q', (byte)'K', 0], [(byte)'Q', (byte)'K', 1])), "tensor 'w'", "reaches element 6 of a 6-element storage");

    [Fact]
    public void AMissingStorageRecordIsNamed() =>
        OpenFails(WriteOne(p => Replace(p, [(byte)'X', 1, 0, 0, 0, (byte)'0'], [(byte)'X', 1, 0, 0, 0, (byte)'9'])), "storage record 'archive/data/9' is missing");

    [Fact]
    public void APickleCutShortIsAFormatError() =>
        OpenFails(WriteOne(p => p[..^5]), "data.pkl", "truncated");

    [Fact]
    public void AValueThatIsNotATensorIsNamed()
    {
        // {"w": tensor, "step": 3}: the SETITEMS gets one more pair.
        var path = WriteOne(p => Replace(p, [(byte)'u', (byte)'.'], [(byte)'X', 4, 0, 0, 0, .. "step"u8, (byte)'K', 3, (byte)'u', (byte)'.']));
        OpenFails(path, "'step' is a value, not a tensor");
    }

    [Fact]
    public void APickledListAtTheTopIsNotAStateDict()
    {
        var path = _dir.File("list.bin");
        TorchSaveWriter.Write(path, new Dictionary<string, Tensor>(), [], editPickle: _ => [0x80, 2, (byte)']', (byte)'.']);
        OpenFails(path, "not a dict of tensors");
    }

    [Fact]
    public void ALegacyTorchSaveFileIsNamedAsNotRead()
    {
        var path = _dir.File(Checkpoint.PyTorchFileName);
        File.WriteAllBytes(path, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);   // the legacy magic number
        var e = Assert.Throws<UnsupportedCheckpointFormatException>(() => Checkpoint.Open(_dir.Path).Dispose());
        Assert.Equal(path, e.File);
        Assert.Contains("torch < 1.6", e.Message);
    }

    [Fact]
    public void RandomDamageOpensOrFailsWithATypedErrorOnly()
    {
        // Seeded: bytes overwritten at random, anywhere in the archive and densely in data.pkl; each case must open (and
        // read every tensor) or fail with the library's typed error, never anything else.
        var tensors = new Dictionary<string, Tensor> { ["a"] = torch.randn(3, 5), ["b"] = torch.ones(7).to_type(ScalarType.BFloat16) };
        var clean = _dir.File("clean.bin");
        TorchSaveWriter.Write(clean, tensors);
        var original = File.ReadAllBytes(clean);
        var pickleEnd = original.AsSpan().IndexOf("archive/byteorder"u8);
        var random = new Random(1234);
        var path = _dir.File("damaged.bin");
        var (opened, refused) = (0, 0);
        for (var round = 0; round < 400; round++)
        {
            var bytes = (byte[])original.Clone();
            var hits = 1 + random.Next(4);
            for (var i = 0; i < hits; i++)
                bytes[round % 2 == 0 ? random.Next(bytes.Length) : random.Next(Math.Max(1, pickleEnd))] = (byte)random.Next(256);
            if (round % 7 == 0) bytes = bytes[..random.Next(bytes.Length)];
            File.WriteAllBytes(path, bytes);
            try
            {
                using var checkpoint = Checkpoint.Open(path);
                foreach (var key in checkpoint.Keys) checkpoint.Load(key, ScalarType.Float32).Dispose();
                opened++;
            }
            catch (Blip2Exception)
            {
                refused++;
            }
        }
        Assert.True(refused > 100, $"only {refused} of 400 damaged files were refused");
        Assert.Equal(400, opened + refused);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void AFileTruncatedDuringALoadFreesEverythingLoaded(int parallelism)
    {
        var tensors = new Dictionary<string, Tensor>();
        var entries = new List<KeyMapEntry>();
        for (var i = 0; i < 12; i++)
        {
            tensors[$"layer{i}.weight"] = torch.randn(64, 64);
            entries.Add(new KeyMapEntry($"layer{i}.weight", [64, 64], [new ParamSource(SourceKind.Copy, $"layer{i}.weight")]));
        }
        var path = _dir.File(Checkpoint.PyTorchFileName);
        TorchSaveWriter.Write(path, tensors);
        using var checkpoint = Checkpoint.Open(_dir.Path);
        var cut = checkpoint.Keys.MaxBy(key => checkpoint.Info(key).DataOffset)!;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
            file.SetLength(checkpoint.Info(cut).DataOffset + 100);

        var allocated = new System.Collections.Concurrent.ConcurrentBag<Tensor>();
        var options = new CheckpointReadOptions { Parallelism = parallelism, OnAllocated = allocated.Add };
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointLoader.Load(checkpoint, new KeyMap(entries, []), options).Dispose());
        Assert.Equal(path, e.File);
        Assert.Contains($"tensor '{cut}'", e.Message);
        Assert.All(allocated, t => Assert.True(t.IsInvalid, "a parameter of the failed load is still allocated"));
    }

    [Fact]
    public void KeysAndShapesAreMatchedBeforeAnyTensorIsRead()
    {
        using var w = torch.ones(2, 3);
        TorchSaveWriter.Write(_dir.File(Checkpoint.PyTorchFileName), new Dictionary<string, Tensor> { ["w"] = w, ["extra"] = w });
        using var checkpoint = Checkpoint.Open(_dir.Path);
        var map = new KeyMap([new KeyMapEntry("w", [3, 2], [new ParamSource(SourceKind.Copy, "w")]), new KeyMapEntry("gone", [1], [new ParamSource(SourceKind.Copy, "gone")])], []);
        var e = Assert.Throws<CheckpointMismatchException>(() => CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions()).Dispose());
        Assert.Single(e.Report.Missing);
        Assert.Single(e.Report.MisShaped);
        Assert.Equal(["extra"], e.Report.Unexpected);
    }
}
