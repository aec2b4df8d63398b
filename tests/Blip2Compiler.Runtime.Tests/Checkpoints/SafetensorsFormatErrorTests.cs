using System.Text;
using Blip2Compiler.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

public class SafetensorsFormatErrorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A file with the given header text and data bytes; the length prefix may lie.</summary>
    private string Raw(string header, int dataBytes, ulong? headerLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = BitConverter.GetBytes(headerLength ?? (ulong)json.Length).Concat(json).Concat(new byte[dataBytes]).ToArray();
        var path = _dir.File($"f{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static CheckpointFormatException Fails(string path, string problem)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(path, e.File);
        Assert.Contains(path, e.Message);
        Assert.Contains(problem, e.Message);
        return e;
    }

    [Fact]
    public void TruncatedFile()
    {
        using var w = torch.ones(4, 4);
        var path = _dir.File("t.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = w });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        var e = Fails(path, "run past the end of the data");
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void FileShorterThanTheLengthPrefix()
    {
        var path = _dir.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Fails(path, "8-byte header length");
    }

    [Fact]
    public void HeaderLengthBeyondTheFile() =>
        Fails(Raw("{}", 0, headerLength: 4096), "header length 4096 runs past the end");

    [Fact]
    public void HugeHeaderLength() =>
        Fails(Raw("{}", 0, headerLength: 1UL << 40), "exceeds the 100 MB limit");

    [Fact]
    public void OffsetsOutOfRange()
    {
        var e = Fails(Raw("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", 16), "run past the end of the data (16 bytes");
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void OverlappingTensors()
    {
        var e = Fails(Raw("""{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}""", 16), "overlap");
        Assert.Contains("'a'", e.Message);
        Assert.Contains("'b'", e.Message);
    }

    [Fact]
    public void UnknownDType()
    {
        var e = Fails(Raw("""{"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}""", 8), "dtype 'F7' is not supported");
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void ByteLengthDisagreesWithShape() =>
        Fails(Raw("""{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}""", 16), "needs 16 bytes but data_offsets [0, 12] hold 12");

    [Fact]
    public void NegativeDimension() =>
        Fails(Raw("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}""", 0), "not a list of non-negative integers");

    [Fact]
    public void HeaderIsNotJson() =>
        Fails(Raw("""{"a": [""", 0), "header is not valid JSON");

    [Fact]
    public void DuplicateTensorName() =>
        Fails(Raw("""{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", 2), "appears twice");

    [Fact]
    public void MissingFile() =>
        Fails(_dir.File("absent.safetensors"), "file not found");

    /// <summary>
    /// Seeded damage to the header of a real checkpoint (the fixture's): every damaged file opens and loads, or fails
    /// with <see cref="CheckpointFormatException"/>; nothing else escapes.
    /// </summary>
    [Fact]
    public void DamagedHeadersGiveFormatErrors()
    {
        var original = File.ReadAllBytes(Path.Combine(Fixtures.Golden("blip2-opt"), "model", "model.safetensors"));
        var headerEnd = 8 + (int)BitConverter.ToUInt64(original, 0);
        var random = new Random(7);
        for (var round = 0; round < 300; round++)
        {
            var bytes = (byte[])original.Clone();
            for (var n = random.Next(1, 6); n > 0; n--) bytes[random.Next(headerEnd)] = (byte)random.Next(256);
            var path = _dir.File($"damaged{round}.safetensors");
            File.WriteAllBytes(path, bytes);
            try
            {
                using var file = SafetensorsFile.Open(path);
                foreach (var name in file.Keys) file.Load(name).Dispose();
            }
            catch (CheckpointFormatException e)
            {
                Assert.Equal(path, e.File);
            }
        }
    }

    [Fact]
    public void MetadataAndPaddingAreAccepted()
    {
        using var file = SafetensorsFile.Open(Raw("""{"__metadata__":{"format":"pt"},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}    """, 2));
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal([2L], file.Info("a").Shape);
    }
}
