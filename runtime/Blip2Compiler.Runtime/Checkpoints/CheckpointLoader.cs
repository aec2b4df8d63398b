using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Fills a key map's parameters from a checkpoint. Everything is checked from the headers before any tensor is read,
/// and all problems are reported at once; a failure leaves nothing loaded.
/// </summary>
public static class CheckpointLoader
{
    public static LoadedParameters Load(Checkpoint checkpoint, KeyMap map, LoadOptions options)
    {
        DTypeSpec.EnsureSupported(options.DType);
        TorchBackend.Initialize();
        var device = options.Device ?? torch.CPU;
        options.Quantization?.EnsureSupported(map, options.DType, device);

        var report = Match(checkpoint, map);
        if (!report.IsLoadable(options.Strict))
            throw new CheckpointMismatchException(checkpoint.Source, report, options.Strict);

        var loaded = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var entry in map.Entries)
                options.Place(loaded, entry, map, Materialize(checkpoint, report.Used[entry.Parameter], options.TypeOf(entry), device));
        }
        catch
        {
            LoadedParameters.DisposeAll(loaded);
            throw;
        }
        return new LoadedParameters(loaded, report);
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

    private static Tensor Materialize(Checkpoint checkpoint, ParamSource source, ScalarType dtype, Device device)
    {
        // The scope frees the pieces of a fused parameter as soon as it is built; the result leaves the scope.
        using var scope = torch.NewDisposeScope();
        // Scaled out of place: a loaded tensor may be a view of the read-only memory-mapped file.
        Tensor Part(int i) => source.Scales is { } s && s[i] != 1.0
            ? checkpoint.Load(source.Keys[i], dtype, device).mul(s[i])
            : checkpoint.Load(source.Keys[i], dtype, device);
        var result = source.Kind switch
        {
            SourceKind.Copy => Part(0),
            SourceKind.Concat => source.Keys.Length == 1
                ? Part(0)
                : torch.cat(Enumerable.Range(0, source.Keys.Length).Select(Part).ToList(), 0),
            SourceKind.QkvBias => QkvBias(checkpoint.Load(source.Keys[0], dtype, device), checkpoint.Load(source.Keys[1], dtype, device)),
            _ => throw new ArgumentOutOfRangeException(nameof(source)),
        };
        return result.DetachFromDisposeScope();
    }

    // As the reference's Blip2Attention: the key projection has no bias of its own.
    private static Tensor QkvBias(Tensor q, Tensor v) => torch.cat([q, torch.zeros_like(v), v], 0);
}
