using System.Text.Json.Nodes;
using Blip2Compiler.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

public class CheckpointTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string GoldenModel => Path.Combine(Fixtures.Golden("blip2-opt"), "model");

    /// <summary>Every tensor of a checkpoint, loaded as stored, in key order.</summary>
    private static Dictionary<string, Tensor> LoadAll(Checkpoint checkpoint) =>
        checkpoint.Keys.Order(StringComparer.Ordinal).ToDictionary(k => k, k => checkpoint.Load(k));

    [Fact]
    [Trait("Category", "Golden")]
    public void ShardedCopyOfTheGoldenModelLoadsIdenticalTensors()
    {
        using var original = Checkpoint.Open(GoldenModel);
        var tensors = LoadAll(original);
        SafetensorsWriter.WriteSharded(_dir.Path, tensors, maxShardBytes: 64 * 1024);

        Assert.False(File.Exists(_dir.File(Checkpoint.SingleFileName)));
        var index = JsonNode.Parse(File.ReadAllText(_dir.File(Checkpoint.IndexFileName)))!;
        var shardFiles = index["weight_map"]!.AsObject().Select(p => (string)p.Value!).Distinct().ToList();
        Assert.True(shardFiles.Count > 1, "expected several shards");
        Assert.All(shardFiles, f => Assert.Matches(@"^model-\d{5}-of-\d{5}\.safetensors$", f));
        Assert.Equal(tensors.Values.Sum(t => t.NumberOfElements * t.ElementSize), (long)index["metadata"]!["total_size"]!);

        using var sharded = Checkpoint.Open(_dir.Path);
        Assert.Equal(shardFiles.Count, sharded.Files.Count);
        Assert.Equal(original.Keys.Order(), sharded.Keys.Order());
        foreach (var (key, expected) in tensors)
        {
            Assert.Equal(original.Info(key).Shape, sharded.Info(key).Shape);
            using var actual = sharded.Load(key);
            TensorAssert.Identical(expected, actual, key);
            expected.Dispose();
        }
    }

    [Fact]
    public void OneShardIsWrittenAsASingleFile()
    {
        using var w = torch.ones(2, 2);
        SafetensorsWriter.WriteSharded(_dir.Path, new Dictionary<string, Tensor> { ["w"] = w }, maxShardBytes: 1 << 20);
        Assert.True(File.Exists(_dir.File(Checkpoint.SingleFileName)));
        Assert.False(File.Exists(_dir.File(Checkpoint.IndexFileName)));
        using var checkpoint = Checkpoint.Open(_dir.Path);
        Assert.Equal(["w"], checkpoint.Keys);
    }

    private void WriteTwoShards()
    {
        // 128 bytes each: shard 1 holds a and b, shard 2 holds c.
        using var a = torch.ones(8, 4);
        using var b = torch.zeros(8, 4);
        using var c = torch.full(8, 4, 2f);
        SafetensorsWriter.WriteSharded(_dir.Path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b, ["c"] = c }, maxShardBytes: 256);
    }

    private JsonNode Index() => JsonNode.Parse(File.ReadAllText(_dir.File(Checkpoint.IndexFileName)))!;

    private void SaveIndex(JsonNode index) => File.WriteAllText(_dir.File(Checkpoint.IndexFileName), index.ToJsonString());

    private CheckpointFormatException OpenFails(params string[] fragments)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => Checkpoint.Open(_dir.Path).Dispose());
        foreach (var fragment in fragments) Assert.Contains(fragment, e.Message);
        return e;
    }

    [Fact]
    public void MissingShard()
    {
        WriteTwoShards();
        File.Delete(_dir.File("model-00002-of-00002.safetensors"));
        var e = OpenFails("shard 'model-00002-of-00002.safetensors' is missing");
        Assert.Equal(_dir.File(Checkpoint.IndexFileName), e.File);
    }

    [Fact]
    public void IndexPutsAKeyInTheWrongShard()
    {
        WriteTwoShards();
        var index = Index();
        index["weight_map"]!["c"] = "model-00001-of-00002.safetensors";
        SaveIndex(index);
        OpenFails("puts 'c' in shard 'model-00001-of-00002.safetensors', which does not hold it");
    }

    [Fact]
    public void ShardHoldsAKeyTheIndexDoesNotList()
    {
        WriteTwoShards();
        var index = Index();
        index["weight_map"]!.AsObject().Remove("b");
        SaveIndex(index);
        OpenFails("holds 'b', which the index does not list");
    }

    [Fact]
    public void IndexNamesAShardOutsideTheFolder()
    {
        WriteTwoShards();
        var index = Index();
        index["weight_map"]!["c"] = "../elsewhere.safetensors";
        SaveIndex(index);
        OpenFails("outside the checkpoint folder");
    }

    [Fact]
    public void IndexWithoutWeightMap()
    {
        WriteTwoShards();
        SaveIndex(new JsonObject { ["metadata"] = new JsonObject() });
        OpenFails("no 'weight_map'");
    }

    [Fact]
    public void FolderWithoutWeights()
    {
        var e = OpenFails("none of model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json");
        Assert.Equal(_dir.Path, e.File);
    }

    [Fact]
    public void CorruptShardNamesTheShard()
    {
        WriteTwoShards();
        var shard = _dir.File("model-00001-of-00002.safetensors");
        File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..^4]);
        var e = OpenFails("run past the end");
        Assert.Equal(shard, e.File);
    }
}
