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
}
