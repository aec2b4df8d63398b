namespace Blip2Compiler.Models;

/// <summary>Sizes and token ids of a compiled model, emitted from its config at build time.</summary>
public sealed record ModelInfo
{
    public string Architecture { get; init; } = "";
    public long NumQueryTokens { get; init; }
    public long? ImageTokenIndex { get; init; }
    public long ImageSize { get; init; }
    public long PatchSize { get; init; }
    public long QFormerMaxPositions { get; init; }
    /// <summary>The Q-Former's width (qformer_config.hidden_size): the size of its query embeddings.</summary>
    public long QFormerHiddenSize { get; init; }
    /// <summary>The width of what the Q-Former cross-attends to (qformer_config.encoder_hidden_size: the vision width).</summary>
    public long QFormerEncoderHiddenSize { get; init; }
    public string TextModelType { get; init; } = "";
    public long VocabSize { get; init; }
    public long TextLayers { get; init; }
    public long TextHeads { get; init; }
    public long TextHeadDim { get; init; }
    public long MaxPositions { get; init; }
    public long? PadTokenId { get; init; }
    public long? BosTokenId { get; init; }
    public long? EosTokenId { get; init; }
    public long? DecoderStartTokenId { get; init; }
    public long ImageTextHiddenSize { get; init; }

    /// <summary>The compiled config.json's <c>architectures[0]</c> (null when it has none).</summary>
    public string? ConfigArchitecture { get; init; }

    /// <summary>Every config field the model was compiled with (see <see cref="CompiledConfig"/>).</summary>
    public IReadOnlyList<ConfigValue> Config { get; init; } = [];
}

/// <summary>
/// A config.json value a model was compiled with, by JSON path, and how Hugging Face fills it when config.json omits
/// it: a constant <see cref="Default"/>, the value of the field at <see cref="DefaultFrom"/>, or (<see cref="Derived"/>)
/// computed from other fields, which are listed themselves. Emitted by the generator from graphs/config.graph.
/// </summary>
public sealed record ConfigValue(string Path, object? Value)
{
    public object? Default { get; init; }
    public string? DefaultFrom { get; init; }
    public bool Derived { get; init; }
}
