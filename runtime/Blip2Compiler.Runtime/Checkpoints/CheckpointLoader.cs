using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Blip2Compiler.Nn;
using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Fills a key map's parameters from a checkpoint. Everything is checked from the headers before any tensor is read,
/// and all problems are reported at once; a failure (a file truncated or unreadable in the middle of the load) leaves
/// nothing loaded.
/// </summary>
/// <remarks>
/// Each parameter is allocated once in its final dtype and every source key is read straight into its slice of it
/// (fused q|k|v, key|value, wi_0|wi_1: no temporaries, no <c>cat</c>), converted on the way a chunk at a time when the
/// file's dtype differs (<see cref="SafetensorsFile.ReadInto"/>). A parameter that is one key in its own dtype, neither
/// fused nor scaled, is instead the file's pages, mapped (<see cref="MappedTensor"/>, <see cref="CheckpointReadOptions.ZeroCopy"/>):
/// no copy and no new memory to fault in. Nothing else of the file is mapped or kept, so resident memory is the
/// parameters plus a 1 MiB scratch per loader thread (and, when quantizing, a 4 MiB float32 row
/// buffer: <see cref="QuantizeWhileReading"/>). For another device the parameter is built on the
/// host in its final dtype and copied over, one at a time: a float32 checkpoint loaded to a GPU in float16 never holds
/// more than one float16 parameter per loader thread on the host. Parameters load in parallel, one loader thread per
/// core, taken in file order so the file is read front to back. A parameter's source bytes, once read, are dropped
/// from the page cache, and every file once the load is done, except what zero-copy parameters map
/// (<see cref="SourceRelease"/>, <see cref="CheckpointReadOptions.KeepFileCache"/>).
/// </remarks>
public static class CheckpointLoader
{
    public static ParameterSet Load(Checkpoint checkpoint, KeyMap map, CheckpointReadOptions options)
    {
        DTypeSpec.EnsureSupported(options.DType);
        TorchBackend.Initialize();
        var device = options.Device ?? torch.CPU;
        options.Quantization?.EnsureSupported(map, options.DType, device);

        var report = Match(checkpoint, map);
        if (!report.IsLoadable(options.Strict))
            throw new CheckpointMismatchException(checkpoint.Source, report, options.Strict);

        var entries = map.Entries;
        var order = Enumerable.Range(0, entries.Count)
            .OrderBy(i => checkpoint.Position(report.Used[entries[i].Parameter].Keys[0]))
            .ToArray();
        var loaded = new Tensor?[entries.Count];
        var copies = new Tensor?[entries.Count];
        var failures = new ConcurrentQueue<(int Rank, Exception Error)>();
        var release = options.KeepFileCache ? null : new SourceRelease(checkpoint, report.Used.Values);
        var next = -1;
        var failed = 0;

        void Work()
        {
            var scratch = GC.AllocateUninitializedArray<byte>(SafetensorsFile.DefaultScratchBytes);
            float[]? rows = null;
            int rank;
            while (Volatile.Read(ref failed) == 0 && (rank = Interlocked.Increment(ref next)) < order.Length)
            {
                var entry = entries[order[rank]];
                try
                {
                    var source = report.Used[entry.Parameter];
                    var treatment = options.Quantization?.For(entry, map) ?? QuantizationPlan.Treatment.Keep;
                    if (treatment == QuantizationPlan.Treatment.Quantize && CanQuantizeWhileReading(checkpoint, source))
                    {
                        loaded[order[rank]] = QuantizeWhileReading(checkpoint, entry, source, options.Quantization!, device, scratch, ref rows, options.OnAllocated);
                        release?.Built(source, mapped: false);
                        continue;
                    }
                    // A weight to quantize is read as float32 on the host, whatever the device: it is quantized there
                    // and only its quantized form goes to the device (QuantizationPlan.Convert).
                    var (tensor, isMapped) = treatment == QuantizationPlan.Treatment.Keep
                        ? Materialize(checkpoint, entry, source, options.TypeOf(entry), device, options.ZeroCopy, scratch, options.OnAllocated)
                        : Materialize(checkpoint, entry, source, ScalarType.Float32, torch.CPU, options.ZeroCopy, scratch, options.OnAllocated);
                    release?.Built(source, isMapped);
                    // Quantized as soon as it is read, on this loader thread: one float tensor per thread at a time.
                    (loaded[order[rank]], copies[order[rank]]) = options.Convert(entry, map, tensor);
                }
                catch (Exception e)
                {
                    failures.Enqueue((rank, e));
                    Volatile.Write(ref failed, 1);
                }
            }
        }

        var workers = Math.Clamp(options.Parallelism ?? Environment.ProcessorCount, 1, Math.Max(1, entries.Count));
        if (workers == 1) Work();
        else Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ => Work());

        if (!failures.IsEmpty)
        {
            foreach (var tensor in loaded.Concat(copies))
                if (tensor is not null) QuantizedWeights.Dispose(tensor);
            ExceptionDispatchInfo.Throw(failures.MinBy(f => f.Rank).Error);
        }
        release?.Finish();
        var parameters = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (var i = 0; i < entries.Count; i++)
        {
            parameters[entries[i].Parameter] = loaded[i]!;
            if (copies[i] is { } copy) parameters[entries[i].Parameter + QuantizationPlan.CopySuffix] = copy;
        }
        return new ParameterSet(parameters, report);
    }

    /// <summary>Float rows read per step when quantizing while reading: 4 MiB, a few rows of any layer, per thread.</summary>
    internal const int QuantizedRowBytes = 4 << 20;

    private static bool CanQuantizeWhileReading(Checkpoint checkpoint, ParamSource source) =>
        source.Kind is SourceKind.Copy or SourceKind.Concat
        && source.Keys.All(k => checkpoint.CanReadElements(k, ScalarType.Float32));

    /// <summary>
    /// A weight the plan quantizes, read a few rows at a time into one float32 buffer per loader thread and quantized
    /// from there (<see cref="Quantizer.Start"/>): the float weight never exists whole, so a quantized load's memory
    /// is the quantized parameters plus a 4 MiB buffer and a 1 MiB scratch per thread. Each key's rows go to its rows
    /// of the fused weight, scaled in float32 as <see cref="Materialize"/> scales them; the result is the same, bit for
    /// bit, as quantizing the whole loaded weight. For a device whose kernels are libtorch's (CUDA), the finished
    /// weight is put in their layout there (<see cref="QuantizationPlan.Place"/>) and its host form freed: nothing
    /// float of it reaches the device, and the host holds one quantized weight per loader thread.
    /// </summary>
    private static Tensor QuantizeWhileReading(Checkpoint checkpoint, KeyMapEntry entry, ParamSource source, QuantizationPlan plan,
        Device device, byte[] scratch, ref float[]? rows, Action<Tensor>? onAllocated)
    {
        var k = entry.Shape[1];
        var rowsPerStep = (int)Math.Max(1, QuantizedRowBytes / (k * sizeof(float)));
        if (rows is null || rows.LongLength < rowsPerStep * k)
            rows = GC.AllocateUninitializedArray<float>((int)(rowsPerStep * k), pinned: true);
        using var builder = Quantizer.Start(plan.Mode, entry.Shape[0], k, plan.GroupSize);
        onAllocated?.Invoke(builder.Packed!);
        for (var i = 0; i < source.Keys.Length; i++)
        {
            var keyRows = checkpoint.Info(source.Keys[i]).Shape[0];
            var scale = source.Scales is { } scales ? (float)scales[i] : 1f;
            for (long row = 0; row < keyRows; row += rowsPerStep)
            {
                var chunk = rows.AsSpan(0, (int)(Math.Min(rowsPerStep, keyRows - row) * k));
                checkpoint.ReadElements(source.Keys[i], row * k, System.Runtime.InteropServices.MemoryMarshal.AsBytes(chunk), ScalarType.Float32, scratch);
                if (scale != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(chunk, scale, chunk);
                builder.AddRows(chunk);
            }
        }
        var quantized = plan.Place(builder.Finish(), device);
        QuantizedWeights.Register(quantized.Data, quantized);
        return quantized.Data;
    }

    /// <summary>Matches a checkpoint's keys and shapes against a key map without reading any tensor.</summary>
    public static LoadReport Match(Checkpoint checkpoint, KeyMap map)
    {
        var used = new Dictionary<string, ParamSource>(StringComparer.Ordinal);
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<MissingParameter>();
        var misShaped = new List<ShapeMismatch>();
        var unsupported = new List<UnsupportedSource>();

        foreach (var entry in map.Entries)
        {
            var source = entry.Alternatives.FirstOrDefault(s => s.Keys.All(checkpoint.Contains));
            if (source is null)
            {
                missing.Add(new MissingParameter(entry.Parameter, entry.Alternatives));
                continue;
            }
            used[entry.Parameter] = source;
            consumed.UnionWith(source.Keys);

            var infos = source.Keys.Select(checkpoint.Info).ToList();
            unsupported.AddRange(infos.Where(i => !SafetensorsDTypes.IsFloatingPoint(i.DType))
                .Select(i => new UnsupportedSource(entry.Parameter, i.Name, i.DType)));
            var shape = ResultShape(source.Kind, infos);
            if (shape is null || !shape.SequenceEqual(entry.Shape))
                misShaped.Add(new ShapeMismatch(entry.Parameter, source, entry.Shape, shape, infos));
        }

        var unexpected = new List<string>();
        var ignored = new List<string>();
        foreach (var key in checkpoint.Keys.Where(k => !consumed.Contains(k)).Order(StringComparer.Ordinal))
            (map.IsIgnored(key) ? ignored : unexpected).Add(key);

        return new LoadReport(used, missing, unexpected, misShaped, unsupported, ignored);
    }

    /// <summary>The shape a source produces, or null when its keys cannot be combined.</summary>
    private static long[]? ResultShape(SourceKind kind, IReadOnlyList<TensorInfo> keys)
    {
        switch (kind)
        {
            case SourceKind.Copy:
                return keys[0].Shape;
            case SourceKind.Concat:
                var first = keys[0].Shape;
                if (first.Length == 0 || keys.Any(k => k.Shape.Length != first.Length || !k.Shape.AsSpan(1).SequenceEqual(first.AsSpan(1))))
                    return null;
                return [keys.Sum(k => k.Shape[0]), .. first[1..]];
            case SourceKind.QkvBias:
                var (q, v) = (keys[0].Shape, keys[1].Shape);
                return q.Length == 1 && v.Length == 1 ? [q[0] + 2 * v[0]] : null;
            default:
                return null;
        }
    }

    /// <summary>A parameter that is one key as the file holds it (its dtype, unscaled), mapped from the file; null when
    /// it is not such a parameter or the file does not map it.</summary>
    private static Tensor? Mapped(Checkpoint checkpoint, ParamSource source, ScalarType dtype) =>
        source.Kind == SourceKind.Copy && (source.Scales is null || source.Scales[0] == 1.0)
        && checkpoint.Info(source.Keys[0]).DType == dtype
            ? checkpoint.TryMap(source.Keys[0])
            : null;

    /// <summary>
    /// One parameter (and whether it is the file's pages, mapped on the CPU): mapped from the file when it is one key as the file holds it (<see cref="CheckpointReadOptions.ZeroCopy"/>;
    /// for another device the mapping only stages the copy and is unmapped after it), else allocated on the host in its
    /// final dtype, each source key read into its slice of dim 0 (scaled there in place, in the final dtype, as the
    /// reference's multiply after conversion), then moved to the device.
    /// The scope frees the host tensor (when moved) and the slice views, and everything on a failure.
    /// </summary>
    private static (Tensor Parameter, bool Mapped) Materialize(Checkpoint checkpoint, KeyMapEntry entry, ParamSource source, ScalarType dtype, Device device,
        bool zeroCopy, byte[] scratch, Action<Tensor>? onAllocated)
    {
        if (zeroCopy && Mapped(checkpoint, source, dtype) is { } mapped)
        {
            onAllocated?.Invoke(mapped);
            if (device.type == DeviceType.CPU) return (mapped.DetachFromDisposeScope(), true);
            using (mapped) return (mapped.to(device).DetachFromDisposeScope(), false);
        }
        using var scope = torch.NewDisposeScope();
        var host = torch.empty(entry.Shape, dtype, torch.CPU);
        onAllocated?.Invoke(host);

        void Fill(int i, Tensor part)
        {
            checkpoint.ReadInto(source.Keys[i], part, scratch);
            if (source.Scales is { } scales && scales[i] != 1.0)
            {
                using var factor = scales[i].ToScalar();
                part.mul_(factor);
            }
        }

        switch (source.Kind)
        {
            case SourceKind.Copy:
                Fill(0, host);
                break;
            case SourceKind.Concat:
                long row = 0;
                for (var i = 0; i < source.Keys.Length; i++)
                {
                    var rows = checkpoint.Info(source.Keys[i]).Shape[0];
                    Fill(i, host.narrow(0, row, rows));
                    row += rows;
                }
                break;
            case SourceKind.QkvBias:
                // As the reference's Blip2Attention: the key projection has no bias of its own.
                var q = checkpoint.Info(source.Keys[0]).Shape[0];
                var v = checkpoint.Info(source.Keys[1]).Shape[0];
                Fill(0, host.narrow(0, 0, q));
                host.narrow(0, q, v).zero_();
                Fill(1, host.narrow(0, q + v, v));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(source));
        }
        var result = device.type == DeviceType.CPU ? host : host.to(device);
        return (result.DetachFromDisposeScope(), false);
    }
}
