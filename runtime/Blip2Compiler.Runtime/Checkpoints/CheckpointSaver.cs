using Blip2Compiler.Nn.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip2Compiler.Checkpoints;

/// <summary>
/// Writes a model's parameters back as a Hugging Face checkpoint: every key-map entry under the checkpoint keys it
/// was loaded from (<see cref="LoadReport.Used"/>; for a model not loaded from a checkpoint, its first source), fused
/// projections split back into their keys (equal parts on dim 0, as every fused BLIP-2 projection is), a legacy
/// q/v bias back into <c>q_bias</c> and <c>v_bias</c>, load-time scales divided out; quantized weights dequantized
/// to float32. Tied or ignored keys (<see cref="KeyMap.IgnoredKeys"/>: a tied LM head) are not written, as
/// <c>save_pretrained</c> drops tied weights. Each tensor is produced as it is written, so memory stays at one
/// tensor beyond the model.
/// </summary>
internal static class CheckpointSaver
{
    /// <summary>transformers' default <c>max_shard_size</c> ("5GB").</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>The files besides the weights that make a folder a checkpoint (model config, generation defaults,
    /// tokenizer, image processor), copied when present.</summary>
    public static readonly string[] CompanionFiles =
    [
        "config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json", "tokenizer.json",
        "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "vocab.txt",
        "spiece.model", "chat_template.json", "chat_template.jinja",
    ];

    public static void Save(string folder, KeyMap map, IReadOnlyDictionary<string, Tensor> parameters, LoadReport? report,
        string? sourceDirectory, long maxShardBytes)
    {
        foreach (var existing in new[] { Checkpoint.SingleFileName, Checkpoint.IndexFileName })
            if (File.Exists(Path.Combine(folder, existing))) throw new CheckpointExistsException(folder, Path.Combine(folder, existing));

        var tensors = new List<StreamedTensor>();
        foreach (var entry in map.Entries)
        {
            var parameter = parameters[entry.Parameter];
            var source = report is not null && report.Used.TryGetValue(entry.Parameter, out var used) ? used : entry.Alternatives[0];
            tensors.AddRange(Parts(entry, source, parameter));
        }
        Directory.CreateDirectory(folder);
        SafetensorsWriter.WriteSharded(folder, tensors, maxShardBytes);

        if (sourceDirectory is null) return;
        foreach (var name in CompanionFiles)
        {
            var from = Path.Combine(sourceDirectory, name);
            var to = Path.Combine(folder, name);
            if (File.Exists(from) && Path.GetFullPath(from) != Path.GetFullPath(to)) File.Copy(from, to, overwrite: true);
        }
    }

    /// <summary>The checkpoint tensors of one parameter, each computed when the writer asks for its bytes.</summary>
    private static IEnumerable<StreamedTensor> Parts(KeyMapEntry entry, ParamSource source, Tensor parameter)
    {
        var quantized = QuantizedWeights.Find(parameter);
        var dtype = quantized is null ? parameter.dtype : ScalarType.Float32;
        var rows = entry.Shape.Length == 0 ? 1 : entry.Shape[0];
        var keys = source.Keys;
        var (partRows, starts) = source.Kind switch
        {
            SourceKind.Copy => (rows, new[] { 0L }),
            SourceKind.Concat when rows % keys.Length == 0 => (rows / keys.Length, Enumerable.Range(0, keys.Length).Select(i => i * (rows / keys.Length)).ToArray()),
            SourceKind.QkvBias when rows % 3 == 0 => (rows / 3, new[] { 0L, 2 * (rows / 3) }),   // q | k (zero, not stored) | v
            _ => throw new InvalidOperationException($"'{entry.Parameter}' {Shapes.Format(entry.Shape)} cannot be split into {source}"),
        };
        for (var i = 0; i < keys.Length; i++)
        {
            var (start, scale) = (starts[i], source.Scales?[i] ?? 1.0);
            long[] shape = source.Kind == SourceKind.Copy ? entry.Shape : [partRows, .. entry.Shape[1..]];
            yield return new StreamedTensor(keys[i], dtype, shape, stream =>
            {
                using var scope = torch.NewDisposeScope();
                var whole = quantized is null ? parameter.detach() : quantized.Dequantize();
                var part = source.Kind == SourceKind.Copy ? whole : whole.narrow(0, start, partRows);
                // Loading multiplied in the parameter's dtype; dividing there undoes it (exactly for powers of two,
                // as √d_kv = 8 of the published T5s).
                if (scale != 1.0) part = part.div(scale.ToScalar());
                TensorBytes.CopyTo(part.cpu().contiguous(), stream);
            });
        }
    }
}
