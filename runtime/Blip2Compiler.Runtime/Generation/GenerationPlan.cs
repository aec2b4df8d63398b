namespace Blip2Compiler.Generation;

/// <summary>
/// Options resolved against one context, with Hugging Face's global defaults filled in and its length rules applied
/// (<c>_prepare_generated_length</c>, <c>_prepare_special_tokens</c>).
/// </summary>
internal sealed record GenerationPlan
{
    public required int ContextLength { get; init; }
    /// <summary>Total length (context + new tokens) at which every row stops.</summary>
    public required int MaxLength { get; init; }
    public required int MinLength { get; init; }
    public required int? MinNewTokens { get; init; }
    public required int NumBeams { get; init; }
    public required int NumReturnSequences { get; init; }
    public required bool DoSample { get; init; }
    public required double Temperature { get; init; }
    public required int TopK { get; init; }
    public required double TopP { get; init; }
    public required double RepetitionPenalty { get; init; }
    public required int NoRepeatNgramSize { get; init; }
    public required double LengthPenalty { get; init; }
    public required EarlyStopping EarlyStopping { get; init; }
    /// <summary>Null when no EOS is configured: rows then only stop at <see cref="MaxLength"/>.</summary>
    public required long[]? EosTokenIds { get; init; }
    /// <summary>Fills finished rows; Hugging Face falls back to the first EOS id.</summary>
    public required long? PadTokenId { get; init; }
    public required long? Seed { get; init; }
    public required int NumBeamGroups { get; init; }
    public required double DiversityPenalty { get; init; }
    public required bool OutputScores { get; init; }
    public required IReadOnlyList<IReadOnlyList<long>>? BadWordsIds { get; init; }
    public required long[]? SuppressTokens { get; init; }
    public required long[]? BeginSuppressTokens { get; init; }
    public required long? ForcedBosTokenId { get; init; }
    public required long[]? ForcedEosTokenIds { get; init; }
    /// <summary>Stop strings with the tokenizer that decodes rows for them; null when none are set.</summary>
    public required StopStringCriteria? StopStrings { get; init; }

    /// <summary>Hugging Face's generation mode <c>GROUP_BEAM_SEARCH</c>: beams in more than one group.</summary>
    public bool IsGroupBeamSearch => NumBeams > 1 && NumBeamGroups > 1;

    public int MaxNewTokens => MaxLength - ContextLength;

    /// <summary>Rows decoded together for <paramref name="batch"/> inputs: one per beam, or per returned sequence.</summary>
    public long Rows(long batch) => batch * (NumBeams > 1 ? NumBeams : NumReturnSequences);

    /// <summary>Throws <see cref="DecodingTooLargeException"/> when <paramref name="batch"/> inputs decode more rows
    /// than <see cref="DecodingLimits.MaxRows"/>.</summary>
    public void CheckRows(long batch)
    {
        if (Rows(batch) > DecodingLimits.MaxRows)
            throw new DecodingTooLargeException(
                $"decoding rows ({batch} inputs × {(NumBeams > 1 ? NumBeams + " beams" : NumReturnSequences + " sequences")})",
                Rows(batch), DecodingLimits.MaxRows, "decode fewer inputs at once");
    }

    public static GenerationPlan Resolve(GenerationOptions options, int contextLength)
    {
        options.Validate();
        var eos = options.EosTokenIds is { Count: > 0 } ids ? ids.ToArray() : null;

        // max_new_tokens wins; an unset max_length means 20 new tokens (Hugging Face's default max_length of 20,
        // which it counts from the end of the context).
        // Counted in 64 bits: max_new_tokens = int.MaxValue plus the context must not wrap around.
        var maxLength = options.MaxNewTokens is { } maxNew ? (long)maxNew + contextLength : options.MaxLength ?? 20L + contextLength;
        if (contextLength >= maxLength)
            throw new InvalidGenerationOptionException("max_length", maxLength,
                $"the context is already {contextLength} tokens long; raise `max_length` or set `max_new_tokens`");
        if (maxLength > int.MaxValue)
            throw new DecodingTooLargeException("max_length (context + max_new_tokens)", maxLength, int.MaxValue);
        StopStringCriteria? stops = null;
        if (options.StopStrings is { Count: > 0 } stopStrings)
            stops = new StopStringCriteria(stopStrings, options.Tokenizer ?? throw new InvalidGenerationOptionException("stop_strings", stopStrings[0],
                "needs the model's tokenizer to decode the rows: set `GenerationOptions.Tokenizer` (Blip2Captioner sets its own), as Hugging Face's generate needs `tokenizer=`"));
        var minLength = options.MinNewTokens is { } minNew ? Math.Min((long)minNew + contextLength, int.MaxValue) : options.MinLength ?? 0;

        return new GenerationPlan
        {
            ContextLength = contextLength,
            MaxLength = (int)maxLength,
            MinLength = (int)minLength,
            MinNewTokens = options.MinNewTokens,
            NumBeams = options.NumBeams ?? 1,
            NumReturnSequences = options.NumReturnSequences ?? 1,
            DoSample = options.DoSample ?? false,
            Temperature = options.Temperature ?? 1.0,
            TopK = options.TopK ?? 50,
            TopP = options.TopP ?? 1.0,
            RepetitionPenalty = options.RepetitionPenalty ?? 1.0,
            NoRepeatNgramSize = options.NoRepeatNgramSize ?? 0,
            LengthPenalty = options.LengthPenalty ?? 1.0,
            EarlyStopping = options.EarlyStopping ?? EarlyStopping.False,
            EosTokenIds = eos,
            PadTokenId = options.PadTokenId ?? eos?[0],
            Seed = options.Seed,
            NumBeamGroups = options.NumBeamGroups ?? 1,
            DiversityPenalty = options.DiversityPenalty ?? 0.0,
            OutputScores = options.OutputScores ?? false,
            BadWordsIds = options.BadWordsIds,
            SuppressTokens = options.SuppressTokens?.ToArray(),
            BeginSuppressTokens = options.BeginSuppressTokens?.ToArray(),
            ForcedBosTokenId = options.ForcedBosTokenId,
            ForcedEosTokenIds = options.ForcedEosTokenIds is { Count: > 0 } forced ? forced.ToArray() : null,
            StopStrings = stops,
        };
    }
}
