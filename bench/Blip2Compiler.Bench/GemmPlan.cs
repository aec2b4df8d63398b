using Blip2Compiler.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Blip2Compiler.Bench;

/// <summary>One weight GEMM of a run: rows × weight [out, in] (+ bias), as the model's linear layers do it.</summary>
public sealed record Gemm(string Parameter, long Rows, long In, long Out, bool Bias);

/// <summary>
/// The weight GEMMs a captioning run of a decoder-only (OPT) model performs, read off its key map: every linear weight
/// with the rows it multiplies — image tokens (patches + class token) in the vision tower and in the Q-Former's
/// cross-attention keys/values, the query tokens elsewhere in the Q-Former and in the language projection, the prompt
/// in the language model's prefill, one row per decoding step after it, and one row per step for the tied LM head
/// (logits are computed for the last position only). Attention's activation-by-activation products are not weight
/// GEMMs and are left out: this is the floor a runtime cannot go below.
/// </summary>
public sealed class GemmPlan
{
    public required IReadOnlyList<Gemm> Vision { get; init; }
    public required IReadOnlyList<Gemm> QFormer { get; init; }
    public required IReadOnlyList<Gemm> Prefill { get; init; }
    public required IReadOnlyList<Gemm> DecodeStep { get; init; }
    public required int DecodeSteps { get; init; }

    public static GemmPlan ForCaption(KeyMap map, long imageSize, long patchSize, long queries, long promptLength, int newTokens, long batch)
    {
        var grid = imageSize / patchSize;
        var imageTokens = grid * grid + 1;
        var parameters = map.Entries.Select(e => e.Parameter).ToHashSet(StringComparer.Ordinal);
        List<Gemm> vision = [], qformer = [], layers = [], head = [];
        foreach (var entry in map.Entries)
        {
            var name = entry.Parameter;
            var shape = entry.Shape;
            var hasBias = parameters.Contains(BiasOf(name));
            if (name == "vision_model.embeddings.patch_embedding.weight")
            {
                // The patch convolution is one GEMM: every patch (grid²) × the flattened kernel.
                vision.Add(new Gemm(name, batch * grid * grid, shape[1] * shape[2] * shape[3], shape[0], hasBias));
                continue;
            }
            if (shape.Length != 2 || !name.EndsWith("weight", StringComparison.Ordinal) || IsLookupTable(name)) continue;
            var (outFeatures, inFeatures) = (shape[0], shape[1]);
            if (name.StartsWith("vision_model.", StringComparison.Ordinal))
                vision.Add(new Gemm(name, batch * imageTokens, inFeatures, outFeatures, hasBias));
            else if (name.StartsWith("qformer.", StringComparison.Ordinal))
                qformer.Add(new Gemm(name, batch * (name.Contains(".crossattention.key") || name.Contains(".crossattention.value") ? imageTokens : queries),
                    inFeatures, outFeatures, hasBias));
            else if (name.StartsWith("language_projection.", StringComparison.Ordinal))
                qformer.Add(new Gemm(name, batch * queries, inFeatures, outFeatures, hasBias));
            else if (name is "language_model.embed_tokens.weight" or "language_model.lm_head.weight" or "lm_head.weight")
                head.Add(new Gemm(name, batch, inFeatures, outFeatures, false));
            else if (name.StartsWith("language_model.", StringComparison.Ordinal))
                layers.Add(new Gemm(name, batch, inFeatures, outFeatures, hasBias));
        }
        // A tied head is the embedding table; an untied one has its own entry: use one of them, never both.
        if (head.Count > 1) head = head.Where(g => !g.Parameter.EndsWith("embed_tokens.weight", StringComparison.Ordinal)).ToList();
        return new GemmPlan
        {
            Vision = vision,
            QFormer = qformer,
            Prefill = layers.Select(g => g with { Rows = batch * promptLength }).Concat(head).ToList(),
            DecodeStep = layers.Concat(head).ToList(),
            DecodeSteps = newTokens - 1,
        };
    }

    /// <summary>"x.weight" → "x.bias", "x.qkv_weight" → "x.qkv_bias".</summary>
    private static string BiasOf(string weight) => weight.EndsWith("weight", StringComparison.Ordinal) ? weight[..^"weight".Length] + "bias" : weight;

    private static bool IsLookupTable(string name) =>
        name.Contains("embed_positions") || name.Contains("position_embedding") || name.Contains("word_embeddings")
        || name.Contains("relative_attention_bias");
}

/// <summary>The plan's GEMMs, runnable alone: their own weights (same shapes, dtype, device), inputs and biases.</summary>
public sealed class GemmRunner : IDisposable
{
    private readonly Dictionary<string, (Tensor Weight, Tensor WeightT, Tensor? Bias)> _weights = new();
    private readonly Dictionary<(long, long), Tensor> _inputs = new();

    public GemmRunner(GemmPlan plan, ScalarType dtype, Device device)
    {
        using var generator = new Generator(7, device);
        foreach (var g in plan.Vision.Concat(plan.QFormer).Concat(plan.Prefill).Concat(plan.DecodeStep))
        {
            if (!_weights.ContainsKey(g.Parameter))
            {
                var weight = torch.normal(0, 0.02, new[] { g.Out, g.In }, dtype, device, generator: generator).DetachFromDisposeScope();
                var bias = g.Bias ? torch.zeros(new[] { g.Out }, dtype, device).DetachFromDisposeScope() : null;
                // Transposed view, as nn.functional.linear hands the weight to addmm.
                _weights[g.Parameter] = (weight, weight.t().DetachFromDisposeScope(), bias);
            }
            if (!_inputs.ContainsKey((g.Rows, g.In)))
                _inputs[(g.Rows, g.In)] = torch.randn(new[] { g.Rows, g.In }, dtype, device, generator: generator).DetachFromDisposeScope();
        }
    }

    /// <summary>Runs the GEMMs in order, each result freed at once (the model frees its outputs layer after layer too).</summary>
    public void Run(IEnumerable<Gemm> gemms)
    {
        foreach (var g in gemms)
        {
            var (_, weightT, bias) = _weights[g.Parameter];
            var x = _inputs[(g.Rows, g.In)];
            using var y = bias is null ? torch.mm(x, weightT) : torch.addmm(bias, x, weightT, beta: 1, alpha: 1);
        }
    }

    public void Dispose()
    {
        foreach (var (w, t, b) in _weights.Values) { t.Dispose(); w.Dispose(); b?.Dispose(); }
        foreach (var x in _inputs.Values) x.Dispose();
    }
}
