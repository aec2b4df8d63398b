using System.Runtime.InteropServices;
using Blip2Compiler.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

public class SafetensorsRoundTripTests
{
    public static TheoryData<ScalarType> DTypes => new()
    {
        ScalarType.Float64, ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    };

    private static Tensor Sample(ScalarType dtype, long[] shape, int seed)
    {
        var gen = new Generator((ulong)seed);
        using var values = torch.randn(shape, generator: gen) * 50;
        return dtype == ScalarType.Bool ? values.gt(0) : values.to(dtype);
    }

    [Theory]
    [MemberData(nameof(DTypes))]
    public void EveryDTypeRoundTrips(ScalarType dtype)
    {
        using var dir = new TempDirectory();
        var tensors = new Dictionary<string, Tensor>
        {
            ["matrix"] = Sample(dtype, [3, 5], 1),
            ["scalar"] = Sample(dtype, [], 2),
            ["empty"] = Sample(dtype, [0, 4], 3),
            ["odd"] = Sample(dtype, [7], 4),
        };
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, tensors);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(tensors.Keys.Order(), file.Keys.Order());
        Assert.Equal("pt", file.Metadata["format"]);
        foreach (var (name, expected) in tensors)
        {
            var info = file.Info(name);
            Assert.Equal(dtype, info.DType);
            Assert.Equal(expected.shape, info.Shape);
            using var loaded = file.Load(name);
            Assert.Equal(dtype, loaded.dtype);
            TensorAssert.Identical(expected, loaded);
            expected.Dispose();
        }
    }

    [Fact]
    public void HeaderIsPaddedAndDataAligned()
    {
        using var dir = new TempDirectory();
        using var a = torch.ones(3, ScalarType.Bool);
        using var b = torch.ones(5, ScalarType.Float64);
        using var c = torch.ones(3, ScalarType.Float16);
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b, ["c"] = c });

        var headerLength = BitConverter.ToInt64(File.ReadAllBytes(path), 0);
        Assert.Equal(0, headerLength % 8);
        using var file = SafetensorsFile.Open(path);
        foreach (var name in file.Keys)
        {
            var info = file.Info(name);
            Assert.Equal(0, info.DataOffset % (info.ByteLength / Math.Max(1, info.ElementCount)));
        }
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float32)]
    public void LoadConvertsDType(ScalarType target)
    {
        using var dir = new TempDirectory();
        using var source = torch.randn(4, 6, generator: new Generator(7));
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = source });

        using var file = SafetensorsFile.Open(path);
        using var loaded = file.Load("w", target, torch.CPU);
        using var expected = source.to(target);
        Assert.Equal(target, loaded.dtype);
        TensorAssert.Identical(expected, loaded);
    }

    [Fact]
    public void SlicedCopyKeepsEveryByte()
    {
        using var source = torch.randn(37, 3, generator: new Generator(3));
        var bytes = source.bytes.ToArray();
        using var destination = torch.empty([37, 3]);
        // Slices of 12 bytes: many slices, each at its own offset into the tensor.
        var offsets = new List<long>();
        TensorBytes.ForEachSlice(destination, 12, (offset, slice) =>
        {
            offsets.Add(offset);
            bytes.AsSpan((int)offset, slice.Length).CopyTo(slice);
        });
        Assert.Equal(Enumerable.Range(0, 37).Select(i => i * 12L), offsets);
        TensorAssert.Identical(source, destination);

        using var stream = new MemoryStream();
        TensorBytes.CopyTo(source, stream, chunkBytes: 20);
        Assert.Equal(bytes, stream.ToArray());
    }

    /// <summary>Reads in tiny slices and scratch chunks (5 and 3 elements, and sizes that split no element evenly)
    /// give the same tensor as one read, converted or not.</summary>
    [Theory]
    [InlineData(ScalarType.Float32, ScalarType.Float32)]
    [InlineData(ScalarType.Float32, ScalarType.BFloat16)]
    [InlineData(ScalarType.Float32, ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16, ScalarType.Float32)]
    [InlineData(ScalarType.Float16, ScalarType.Float32)]
    [InlineData(ScalarType.Float16, ScalarType.BFloat16)]
    [InlineData(ScalarType.Float64, ScalarType.Float16)]
    public void ChunkedReadsMatchTheWholeTensor(ScalarType stored, ScalarType target)
    {
        using var dir = new TempDirectory();
        using var random = torch.randn(7, 11, generator: new Generator(11));
        using var source = random.to(stored);
        var path = dir.File("t.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = source });

        using var file = SafetensorsFile.Open(path);
        using var expected = source.to(target);
        foreach (var (sliceBytes, scratchBytes) in new[] { (10L, 6), (64L, 17), (1L << 20, 1 << 20) })
        {
            using var actual = torch.empty([7, 11], target);
            file.ReadInto(file.Info("w"), actual, new byte[scratchBytes], sliceBytes);
            TensorAssert.Identical(expected, actual, $"slices of {sliceBytes} B, scratch {scratchBytes} B");
        }
    }
}
