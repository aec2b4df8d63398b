using System.Runtime.InteropServices;
using Blip2Compiler.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Tests.Checkpoints;

/// <summary>
/// What a load leaves of the checkpoint in the page cache (<see cref="CheckpointReadOptions.KeepFileCache"/>), read with
/// <c>mincore</c> over a mapping of the file (which faults nothing in): by default each parameter's source bytes leave
/// the cache once it is built, before the next parameter's memory is allocated, and the files once the load is done,
/// all but the pages a zero-copy parameter maps; with the cache kept, the file stays whole in it. The file is written
/// and synced first (the kernel drops only clean pages) in a folder next to the tests' binaries, on a disk file system
/// (a tmpfs keeps its pages: they are the file).
/// </summary>
public class FileCacheTests : IDisposable
{
    private const long MiB = 1 << 20;

    /// <summary>The largest page-cache folio on x86-64 and arm64 with 4 KiB pages (a PMD): a range drops only the
    /// folios wholly inside it, so only the part of a tensor between its first and last 2 MiB boundaries is sure to go.</summary>
    private const long LargestFolio = 2 * MiB;

    private readonly string _dir = Path.Combine(AppContext.BaseDirectory, "file-cache-" + Guid.NewGuid().ToString("N"));
    private readonly Dictionary<string, Tensor> _stored = new(StringComparer.Ordinal);

    public FileCacheTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        foreach (var t in _stored.Values) t.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string FilePath => Path.Combine(_dir, Checkpoint.SingleFileName);

    /// <summary>A float32 tensor of <paramref name="mib"/> MiB (rows of 1,024).</summary>
    private void Store(string key, long mib) =>
        _stored[key] = torch.randn([mib * MiB / 4096, 1024], generator: new Generator((ulong)_stored.Count + 7));

    private static KeyMapEntry Copy(string key, Tensor like) => new(key, like.shape, [new ParamSource(SourceKind.Copy, key)]);

    /// <summary>b.qk.weight: the stored b.q.weight and c.k.weight fused (q|k), as an attention's projections are.</summary>
    private KeyMapEntry FusedQk() =>
        new("b.qk.weight", [2 * _stored["b.q.weight"].shape[0], 1024], [new ParamSource(SourceKind.Concat, "b.q.weight", "c.k.weight")]);

    /// <summary>Writes the tensors, syncs the file (dirty pages stay cached whatever is advised) and reads it whole, so
    /// every page is cached and clean when the load starts.</summary>
    private Checkpoint SaveCached()
    {
        SafetensorsWriter.Write(FilePath, _stored);
        using (var file = new FileStream(FilePath, FileMode.Open, FileAccess.ReadWrite))
            file.Flush(flushToDisk: true);
        File.ReadAllBytes(FilePath);
        Assert.Equal(PageCount(0, new FileInfo(FilePath).Length), ResidentPages(0, new FileInfo(FilePath).Length));
        return Checkpoint.Open(_dir);
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 2)]
    [InlineData(ScalarType.Float16, 1)]
    public void AConvertingLoadLeavesNothingOfTheFileInTheCache(ScalarType dtype, int parallelism)
    {
        Store("a.weight", 6);
        Store("b.weight", 5);
        Store("c.weight", 3);
        using var checkpoint = SaveCached();
        var map = new KeyMap(_stored.Select(kv => Copy(kv.Key, kv.Value)).ToList(), []);
        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions(dtype) { Parallelism = parallelism });
        Assert.Equal(0, ResidentPages(0, new FileInfo(FilePath).Length));
        using var scope = torch.NewDisposeScope();
        foreach (var (key, stored) in _stored) TensorAssert.Identical(stored.to(dtype), loaded[key]);
    }

    /// <summary>The drop that makes the load faster: a parameter's source leaves the cache before the next parameter's
    /// memory is allocated (one loader thread, so parameters are built in file order: the writer sorts the keys), and a
    /// fused parameter's sources with it.</summary>
    [Fact]
    public void EachParametersSourceLeavesTheCacheBeforeTheNextIsAllocated()
    {
        Store("a.first.weight", 8);
        Store("b.q.weight", 4);
        Store("c.k.weight", 4);
        Store("d.last.weight", 1);
        using var checkpoint = SaveCached();
        var map = new KeyMap(
        [
            Copy("a.first.weight", _stored["a.first.weight"]),
            FusedQk(),
            Copy("d.last.weight", _stored["d.last.weight"]),
        ], []);
        var seen = new List<(long First, long Q, long K)>();
        var options = new CheckpointReadOptions(ScalarType.BFloat16)
        {
            Parallelism = 1,
            OnAllocated = _ => seen.Add((Interior(checkpoint, "a.first.weight"), Interior(checkpoint, "b.q.weight"), Interior(checkpoint, "c.k.weight"))),
        };
        using var loaded = CheckpointLoader.Load(checkpoint, map, options);
        Assert.Equal(3, seen.Count);
        Assert.True(seen[0].First > 0 && seen[0].Q > 0 && seen[0].K > 0, $"at the first allocation the file is still cached: {seen[0]}");
        Assert.Equal(0, seen[1].First);
        Assert.True(seen[1].Q > 0 && seen[1].K > 0, $"the fused parameter's sources are cached until it is read: {seen[1]}");
        Assert.Equal((0L, 0L, 0L), seen[2]);
    }

    /// <summary>A key two parameters read (as a tied table may be) stays cached until the second is built: the first
    /// one's drop does not send the second to the disk.</summary>
    [Fact]
    public void AKeyTwoParametersReadStaysCachedUntilTheLastOfThemIsBuilt()
    {
        Store("a.table", 8);
        Store("b.weight", 3);
        using var checkpoint = SaveCached();
        var shape = _stored["a.table"].shape;
        var map = new KeyMap(
        [
            new("input.table", shape, [new ParamSource(SourceKind.Copy, "a.table")]),
            new("output.table", shape, [new ParamSource(SourceKind.Copy, "a.table")]),
            Copy("b.weight", _stored["b.weight"]),
        ], []);
        var seen = new List<long>();
        var options = new CheckpointReadOptions(ScalarType.BFloat16) { Parallelism = 1, OnAllocated = _ => seen.Add(Interior(checkpoint, "a.table")) };
        using var loaded = CheckpointLoader.Load(checkpoint, map, options);
        Assert.Equal(3, seen.Count);
        Assert.True(seen[1] > 0, "the table left the cache before its second reader was built");
        Assert.Equal(0, seen[2]);
        Assert.Equal(0, ResidentPages(0, new FileInfo(FilePath).Length));
        using var scope = torch.NewDisposeScope();
        TensorAssert.Identical(_stored["a.table"].to(ScalarType.BFloat16), loaded["output.table"]);
    }

    /// <summary>A torch.save archive (pytorch_model.bin) converted: nothing of it stays cached either, its zip headers
    /// included.</summary>
    [Fact]
    public void ATorchSaveArchiveConvertedLeavesNothingInTheCache()
    {
        Store("a.weight", 4);
        Store("b.weight", 3);
        var path = Path.Combine(_dir, Checkpoint.PyTorchFileName);
        TorchSaveWriter.Write(path, _stored);
        using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
            file.Flush(flushToDisk: true);
        File.ReadAllBytes(path);
        using var checkpoint = Checkpoint.Open(_dir);
        var map = new KeyMap(_stored.Select(kv => Copy(kv.Key, kv.Value)).ToList(), []);
        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions(ScalarType.Float16) { Parallelism = 2 });
        Assert.Equal(0, ResidentPages(0, new FileInfo(path).Length, path));
        using var scope = torch.NewDisposeScope();
        foreach (var (key, stored) in _stored) TensorAssert.Identical(stored.to(ScalarType.Float16), loaded[key]);
    }

    /// <summary>A float32 load: the unfused parameters are the file's pages, mapped, and stay cached (they are the
    /// parameters); the fused parameter, read into new memory, takes its sources out of the cache.</summary>
    [Fact]
    public void ZeroCopyParametersKeepTheirPagesAndWhatWasReadIsDropped()
    {
        Store("a.mapped.weight", 6);
        Store("b.q.weight", 4);
        Store("c.k.weight", 4);
        using var checkpoint = SaveCached();
        var map = new KeyMap(
        [
            Copy("a.mapped.weight", _stored["a.mapped.weight"]),
            FusedQk(),
        ], []);
        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions { Parallelism = 2 });
        var mapped = checkpoint.Info("a.mapped.weight");
        Assert.Equal(PageCount(mapped.DataOffset, mapped.ByteLength), ResidentPages(mapped.DataOffset, mapped.ByteLength));
        var q = checkpoint.Info("b.q.weight");
        var k = checkpoint.Info("c.k.weight");
        // From the first page the mapped tensor does not share (its mapping covers its last page whole).
        var page = Environment.SystemPageSize;
        var readStart = (q.DataOffset + page - 1) / page * page;
        Assert.Equal(0, ResidentPages(readStart, k.DataOffset + k.ByteLength - readStart));
        using var scope = torch.NewDisposeScope();
        TensorAssert.Identical(_stored["a.mapped.weight"], loaded["a.mapped.weight"]);
        TensorAssert.Identical(torch.cat([_stored["b.q.weight"], _stored["c.k.weight"]], 0), loaded["b.qk.weight"]);
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, true)]
    [InlineData(ScalarType.Float32, false)]
    public void KeepFileCacheLeavesTheFileCachedWhole(ScalarType dtype, bool zeroCopy)
    {
        Store("a.weight", 4);
        Store("b.weight", 3);
        using var checkpoint = SaveCached();
        var map = new KeyMap(_stored.Select(kv => Copy(kv.Key, kv.Value)).ToList(), []);
        using var loaded = CheckpointLoader.Load(checkpoint, map, new CheckpointReadOptions(dtype) { KeepFileCache = true, ZeroCopy = zeroCopy });
        var length = new FileInfo(FilePath).Length;
        Assert.Equal(PageCount(0, length), ResidentPages(0, length));
        using var scope = torch.NewDisposeScope();
        foreach (var (key, stored) in _stored) TensorAssert.Identical(stored.to(dtype), loaded[key]);
    }

    /// <summary>Cached pages of <paramref name="key"/>'s bytes between its first and last <see cref="LargestFolio"/>
    /// boundaries (those in folios wholly inside the tensor).</summary>
    private long Interior(Checkpoint checkpoint, string key)
    {
        var info = checkpoint.Info(key);
        var start = (info.DataOffset + LargestFolio - 1) / LargestFolio * LargestFolio;
        var end = (info.DataOffset + info.ByteLength) / LargestFolio * LargestFolio;
        Assert.True(end > start, $"'{key}' is too small to hold a whole folio");
        return ResidentPages(start, end - start);
    }

    private static long PageCount(long offset, long length)
    {
        var page = Environment.SystemPageSize;
        return (offset + length + page - 1) / page - offset / page;
    }

    /// <summary>How many pages of the file's [<paramref name="offset"/>, + <paramref name="length"/>) are in the page
    /// cache: <c>mincore</c> over a shared read-only mapping of them, which reports without faulting anything in.</summary>
    private long ResidentPages(long offset, long length, string? path = null)
    {
        var page = Environment.SystemPageSize;
        var first = offset / page * page;
        var bytes = (nuint)(offset + length - first);
        using var handle = File.OpenHandle(path ?? FilePath);
        var address = Mmap(0, bytes, ProtRead, MapShared, (int)handle.DangerousGetHandle(), first);
        Assert.True(-1 != (long)address, $"mmap [{first}, +{bytes}) failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var pages = ((long)bytes + page - 1) / page;
            var vector = new byte[pages];
            Assert.Equal(0, Mincore(address, bytes, vector));
            return vector.LongCount(b => (b & 1) != 0);
        }
        finally
        {
            Munmap(address, bytes);
        }
    }

    private const int ProtRead = 1, MapShared = 1;

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [DllImport("libc", EntryPoint = "munmap")]
    private static extern int Munmap(nint address, nuint length);

    [DllImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static extern int Mincore(nint address, nuint length, [Out] byte[] vector);
}
