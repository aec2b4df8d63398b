using static TorchSharp.torch;

namespace Blip2Compiler.Processing;

/// <summary>
/// The text half of HF's <c>Blip2Processor</c>: each prompt becomes <c>num_query_tokens</c> × <c>&lt;image&gt;</c>, then the
/// tokenizer's encoding with its special tokens (OPT: BOS + text; T5: text + EOS). Legacy checkpoints without an
/// image token (<c>image_token_index</c> absent) get the tokenizer's encoding alone. Rows are padded to the longest
/// with the tokenizer's pad id, on the left by default as generation needs.
/// </summary>
public sealed class Blip2PromptBuilder
{
    public Blip2PromptBuilder(ITextTokenizer tokenizer, int numQueryTokens, int? imageTokenId)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (numQueryTokens < 0)
            throw new Blip2Exception($"num_query_tokens must not be negative (got {numQueryTokens})");
        if (imageTokenId < 0)
            throw new Blip2Exception($"image_token_index must not be negative (got {imageTokenId})");
        Tokenizer = tokenizer;
        NumQueryTokens = numQueryTokens;
        ImageTokenId = imageTokenId;
    }

    public ITextTokenizer Tokenizer { get; }

    public int NumQueryTokens { get; }

    /// <summary>Id of <c>&lt;image&gt;</c>; null for legacy checkpoints, where the model inserts the query outputs itself.</summary>
    public int? ImageTokenId { get; }

    public PaddingSide PaddingSide { get; init; } = PaddingSide.Left;

    /// <summary>The tokenizer's <c>padding_side</c> (tokenizer_config.json; Hugging Face's default right): where
    /// <see cref="Encode"/> pads when its options do not say.</summary>
    public PaddingSide TokenizerPaddingSide { get; init; } = PaddingSide.Right;

    /// <summary>The tokenizer's <c>truncation_side</c> (Hugging Face's default right).</summary>
    public PaddingSide TruncationSide { get; init; } = PaddingSide.Right;

    /// <summary>The tokenizer's <c>model_max_length</c>: the <c>max_length</c> of padding and truncation when none is given.</summary>
    public int? ModelMaxLength { get; init; }

    /// <summary>
    /// Texts as Hugging Face's <c>Blip2Processor(text=texts, padding=…, truncation=…, max_length=…)</c> encodes them
    /// (processing_blip_2.py): the tokenizer encodes each text with its special tokens, truncates and pads the rows by
    /// the tokenizer base's rules (tokenization_utils_base.py), and then the processor puts <see cref="NumQueryTokens"/>
    /// image tokens (attention 1) in front of every row — before any left padding, and never counted in
    /// <c>max_length</c>. Legacy layouts without an image token get the tokenizer's rows alone.
    /// </summary>
    public PromptBatch Encode(IReadOnlyList<string?> texts, TextEncodingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        options ??= TextEncodingOptions.Default;
        if (texts.Count == 0) throw new TextEncodingException("text", "no texts to encode: give at least one");
        if (options.MaxLength is < 1 and var given) throw new TextEncodingException("max_length", $"must be at least 1 (got {given})");
        var max = options.MaxLength ?? ModelMaxLength;

        var rows = new List<IReadOnlyList<int>>(texts.Count);
        foreach (var text in texts)
        {
            IReadOnlyList<int> ids = Tokenizer.Encode(text ?? "", addSpecialTokens: false);
            if (options.Truncation && max is int limit)
            {
                var room = limit - Tokenizer.NumSpecialTokensToAdd;
                if (room < 0)
                    throw new TextEncodingException("max_length", $"{limit} is shorter than the {Tokenizer.NumSpecialTokensToAdd} special tokens every row needs");
                if (ids.Count > room) ids = TruncationSide == PaddingSide.Right ? [.. ids.Take(room)] : [.. ids.Skip(ids.Count - room)];
            }
            rows.Add(Tokenizer.BuildInputsWithSpecialTokens(ids));
        }

        // Hugging Face resolves the strategy first (max_length padding without any max length does not pad), then
        // refuses to pad without a pad token whether or not a row is short.
        int? target = options.Padding switch
        {
            TextPadding.Longest => rows.Max(r => r.Count),
            TextPadding.MaxLength => max,
            _ => null,
        };
        if (target is not null && Tokenizer.PadTokenId is null)
            throw new TextEncodingException("padding", $"the {Tokenizer.Kind} tokenizer has no pad token; use padding do_not_pad");
        // Padding lengthens short rows only: rows left unequal (no padding, or longer than max_length without
        // truncation) cannot form one batch, where Hugging Face fails to make the tensor.
        var lengths = rows.Select(r => Math.Max(r.Count, target ?? 0)).Distinct().ToList();
        if (lengths.Count > 1)
            throw new TextEncodingException("padding", $"rows of {lengths.Min()} to {lengths.Max()} ids cannot form one batch: " +
                (target is null ? "use padding longest or max_length" : "use truncation, or a larger max_length"));
        var length = lengths[0];

        var side = options.PaddingSide ?? TokenizerPaddingSide;
        var image = ImageTokenId is null ? 0 : NumQueryTokens;
        var inputIds = new long[rows.Count, image + length];
        var mask = new long[rows.Count, image + length];
        for (var b = 0; b < rows.Count; b++)
        {
            for (var t = 0; t < image; t++) (inputIds[b, t], mask[b, t]) = (ImageTokenId!.Value, 1);
            var row = rows[b];
            var offset = image + (side == PaddingSide.Left ? length - row.Count : 0);
            for (var t = image; t < image + length; t++) inputIds[b, t] = Tokenizer.PadTokenId ?? 0;
            for (var t = 0; t < row.Count; t++) (inputIds[b, offset + t], mask[b, offset + t]) = (row[t], 1);
        }
        return new PromptBatch(inputIds, mask);
    }

    /// <summary>The ids of one prompt.</summary>
    /// <param name="prompt">The text; null or empty for none (only the image and special tokens).</param>
    /// <param name="maxLength">
    /// When given, the text is cut on the right so that the whole row (image tokens and special tokens included)
    /// fits, as the processor's <c>truncation=True, max_length=...</c> does; never cut otherwise.
    /// </param>
    public IReadOnlyList<int> BuildIds(string? prompt, int? maxLength = null)
    {
        IReadOnlyList<int> text = Tokenizer.Encode(prompt ?? "", addSpecialTokens: false);
        int imageTokens = ImageTokenId is null ? 0 : NumQueryTokens;
        if (maxLength is int max)
        {
            int room = max - imageTokens - Tokenizer.NumSpecialTokensToAdd;
            if (room < 0)
                throw new Blip2Exception($"max length {max} is shorter than the {imageTokens} image tokens and {Tokenizer.NumSpecialTokensToAdd} special tokens every prompt needs");
            if (text.Count > room) text = [.. text.Take(room)];
        }
        return [.. Enumerable.Repeat(ImageTokenId ?? 0, imageTokens), .. Tokenizer.BuildInputsWithSpecialTokens(text)];
    }

    /// <summary>One padded batch; prompts may be null or empty.</summary>
    public PromptBatch Build(IReadOnlyList<string?> prompts, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new Blip2Exception("no prompts to build: give at least one (null for an image-only prompt)");

        var rows = prompts.Select(p => BuildIds(p, maxLength)).ToList();
        int length = rows.Max(r => r.Count);
        if (rows.Any(r => r.Count != length) && Tokenizer.PadTokenId is null)
            throw new Blip2Exception($"prompts of different lengths cannot be padded: the {Tokenizer.Kind} tokenizer has no pad token");

        var ids = new long[rows.Count, length];
        var mask = new long[rows.Count, length];
        for (int b = 0; b < rows.Count; b++)
        {
            var row = rows[b];
            int offset = PaddingSide == PaddingSide.Left ? length - row.Count : 0;
            for (int t = 0; t < length; t++) ids[b, t] = Tokenizer.PadTokenId ?? 0;
            for (int t = 0; t < row.Count; t++)
            {
                ids[b, offset + t] = row[t];
                mask[b, offset + t] = 1;
            }
        }
        return new PromptBatch(ids, mask);
    }

    /// <summary>The text of each row (HF <c>batch_decode</c>); image, pad and other special tokens are dropped unless asked for.</summary>
    public IReadOnlyList<string> DecodeBatch(long[,] ids, bool skipSpecialTokens = true) =>
        [.. Enumerable.Range(0, ids.GetLength(0)).Select(b =>
            Tokenizer.Decode(Enumerable.Range(0, ids.GetLength(1)).Select(t => checked((int)ids[b, t])), skipSpecialTokens))];

    public IReadOnlyList<string> DecodeBatch(IEnumerable<IEnumerable<long>> sequences, bool skipSpecialTokens = true) =>
        [.. sequences.Select(s => Tokenizer.Decode(s.Select(id => checked((int)id)), skipSpecialTokens))];

    /// <summary>The text of each row of a [batch, length] (or [length]) tensor of ids, e.g. the output of generation.</summary>
    public IReadOnlyList<string> DecodeBatch(Tensor ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.dim() is not (1 or 2)) throw new Blip2Exception($"ids to decode must be [batch, length] or [length], got shape [{string.Join(", ", ids.shape)}]");
        using var scope = NewDisposeScope();
        var rows = ids.dim() == 1 ? ids.unsqueeze(0) : ids;
        var values = rows.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        int length = (int)rows.shape[1];
        return [.. Enumerable.Range(0, (int)rows.shape[0]).Select(b => Tokenizer.Decode(values.Skip(b * length).Take(length).Select(id => checked((int)id)), skipSpecialTokens))];
    }
}
