using Blip2Compiler.Processing;

namespace Blip2Compiler.Generation;

/// <summary>
/// The decoding options of Hugging Face's <c>GenerationConfig</c> that this engine implements. Every property is
/// nullable: null means "not set", so <see cref="GenerationDefaults.Merge"/> can layer caller overrides over a
/// checkpoint's defaults, and anything still unset falls back to Hugging Face's global defaults.
/// </summary>
public sealed record GenerationOptions
{
    /// <summary><c>max_new_tokens</c>: tokens to generate after the context; takes precedence over <see cref="MaxLength"/>.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary><c>min_new_tokens</c>: EOS is suppressed until this many tokens are generated; takes precedence over <see cref="MinLength"/>.</summary>
    public int? MinNewTokens { get; init; }

    /// <summary><c>max_length</c>: total length including the context (prompt for decoder-only models, decoder start for T5). Unset: 20 new tokens.</summary>
    public int? MaxLength { get; init; }

    /// <summary><c>min_length</c>: EOS is suppressed while the total length (context included) is below it.</summary>
    public int? MinLength { get; init; }

    /// <summary><c>num_beams</c> (default 1).</summary>
    public int? NumBeams { get; init; }

    /// <summary><c>num_return_sequences</c> (default 1): sequences returned per input.</summary>
    public int? NumReturnSequences { get; init; }

    /// <summary><c>length_penalty</c> (default 1.0): finished beams score <c>sum_logprobs / generated_len^length_penalty</c>.</summary>
    public double? LengthPenalty { get; init; }

    /// <summary><c>early_stopping</c> (default false).</summary>
    public EarlyStopping? EarlyStopping { get; init; }

    /// <summary><c>do_sample</c> (default false).</summary>
    public bool? DoSample { get; init; }

    /// <summary><c>temperature</c> (default 1.0), sampling only.</summary>
    public double? Temperature { get; init; }

    /// <summary><c>top_k</c> (default 50, 0 disables), sampling only.</summary>
    public int? TopK { get; init; }

    /// <summary><c>top_p</c> (default 1.0), sampling only.</summary>
    public double? TopP { get; init; }

    /// <summary><c>repetition_penalty</c> (default 1.0 = none).</summary>
    public double? RepetitionPenalty { get; init; }

    /// <summary><c>no_repeat_ngram_size</c> (default 0 = off).</summary>
    public int? NoRepeatNgramSize { get; init; }

    /// <summary><c>eos_token_id</c>: one or several ids that end a sequence.</summary>
    public IReadOnlyList<long>? EosTokenIds { get; init; }

    /// <summary><c>pad_token_id</c>: fills finished rows; defaults to the first EOS id.</summary>
    public long? PadTokenId { get; init; }

    /// <summary><c>bos_token_id</c>: the prompt the model builds when it is given none.</summary>
    public long? BosTokenId { get; init; }

    /// <summary><c>decoder_start_token_id</c>: the first decoder id of encoder–decoder models.</summary>
    public long? DecoderStartTokenId { get; init; }

    /// <summary>
    /// <c>stop_strings</c>: a row ends as soon as its generated text contains one of these (matched in the decoded
    /// text, so across token boundaries, as Hugging Face's <c>StopStringCriteria</c>). The ids keep the token that
    /// completed the match (as Hugging Face returns them, pad after); texts (<see cref="StopStringCriteria.Cut"/>,
    /// the captioner's) end before the stop string. Needs <see cref="Tokenizer"/>.
    /// </summary>
    public IReadOnlyList<string>? StopStrings { get; init; }

    /// <summary>
    /// Hugging Face's <c>tokenizer</c> argument of <c>generate</c>: decodes rows for <see cref="StopStrings"/>.
    /// <see cref="AI.Blip2Captioner"/> sets its own.
    /// </summary>
    public ITextTokenizer? Tokenizer { get; init; }

    /// <summary><c>bad_words_ids</c>: id sequences that may never be generated (the last id of each is banned after its prefix).</summary>
    public IReadOnlyList<IReadOnlyList<long>>? BadWordsIds { get; init; }

    /// <summary><c>suppress_tokens</c>: ids whose score is −inf at every step.</summary>
    public IReadOnlyList<long>? SuppressTokens { get; init; }

    /// <summary><c>begin_suppress_tokens</c>: ids whose score is −inf at the first generated position.</summary>
    public IReadOnlyList<long>? BeginSuppressTokens { get; init; }

    /// <summary><c>forced_bos_token_id</c>: the first token after a one-token context (T5's decoder start).</summary>
    public long? ForcedBosTokenId { get; init; }

    /// <summary><c>forced_eos_token_id</c>: one or several ids forced as the last token when <c>max_length</c> is reached.</summary>
    public IReadOnlyList<long>? ForcedEosTokenIds { get; init; }

    /// <summary><c>num_beam_groups</c> (default 1): diverse (group) beam search when above 1; divides <see cref="NumBeams"/>.</summary>
    public int? NumBeamGroups { get; init; }

    /// <summary><c>diversity_penalty</c> (default 0): subtracted, per group beam search step, from a token's score for
    /// every earlier group's beam that chose it in the same step.</summary>
    public double? DiversityPenalty { get; init; }

    /// <summary><c>output_scores</c> (default false): fills <see cref="GenerationResult.TokenScores"/>.</summary>
    public bool? OutputScores { get; init; }

    /// <summary>Seeds the sampler's generator, so sampled results repeat across runs. Unset: torch's global generator.</summary>
    public long? Seed { get; init; }

    /// <summary>
    /// Streaming (Hugging Face's <c>streamer</c>): called after every step of greedy search or sampling with the token
    /// chosen for each row (the pad id for finished rows). Beam search chooses its tokens only at the end, so it
    /// reports nothing. Costs one device-to-host copy per step when set.
    /// </summary>
    public Action<long[]>? OnTokens { get; init; }

    /// <summary>
    /// Progress: called after every decoding step of every search (greedy, sampling, beam and group beam search) with
    /// the number of new tokens each row has so far, on the decoding thread. Unlike <see cref="OnTokens"/> it reports
    /// beam search's steps too, and costs no device-to-host copy. (The serving engine counts its side lane's steps with
    /// it; a caller can cancel the run's token from it, which ends the run before its next step.)
    /// </summary>
    public Action<int>? OnStep { get; init; }

    /// <summary>
    /// Throws <see cref="InvalidGenerationOptionException"/> naming the first option whose value cannot be used, or
    /// <see cref="DecodingTooLargeException"/> for more beams or sequences than <see cref="DecodingLimits.MaxBeams"/>.
    /// Checks only the options themselves; lengths against the context are checked by <see cref="GenerationLoop.Generate"/>.
    /// </summary>
    public void Validate()
    {
        Positive("max_new_tokens", MaxNewTokens);
        NonNegative("min_new_tokens", MinNewTokens);
        Positive("max_length", MaxLength);
        NonNegative("min_length", MinLength);
        Positive("num_beams", NumBeams);
        Positive("num_return_sequences", NumReturnSequences);
        NonNegative("top_k", TopK);
        NonNegative("no_repeat_ngram_size", NoRepeatNgramSize);
        AtMost("num_beams", NumBeams, DecodingLimits.MaxBeams);
        AtMost("num_return_sequences", NumReturnSequences, DecodingLimits.MaxBeams);

        if (MinNewTokens is { } minNew && MaxNewTokens is { } maxNew && minNew > maxNew)
            throw new InvalidGenerationOptionException("min_new_tokens", minNew, $"is larger than `max_new_tokens` ({maxNew})");
        if (MinLength is { } minLen && MaxLength is { } maxLen && minLen > maxLen)
            throw new InvalidGenerationOptionException("min_length", minLen, $"is larger than `max_length` ({maxLen})");

        if (LengthPenalty is { } lp && !double.IsFinite(lp))
            throw new InvalidGenerationOptionException("length_penalty", lp, "must be a finite number");
        if (RepetitionPenalty is { } rp && !(rp > 0 && double.IsFinite(rp)))
            throw new InvalidGenerationOptionException("repetition_penalty", rp, "must be a strictly positive number (1.0 = no penalty)");

        var sampling = DoSample ?? false;
        if (sampling && Temperature is { } t && !(t > 0 && double.IsFinite(t)))
            throw new InvalidGenerationOptionException("temperature", t,
                "must be strictly positive when sampling (for greedy decoding set `do_sample` to false)");
        if (TopP is { } p && !(p > 0 && p <= 1))
            throw new InvalidGenerationOptionException("top_p", p, "must be in (0, 1]");

        var beams = NumBeams ?? 1;
        var returned = NumReturnSequences ?? 1;
        if (beams > 1 && returned > beams)
            throw new InvalidGenerationOptionException("num_return_sequences", returned,
                $"must not exceed `num_beams` ({beams}) for beam search");
        if (beams == 1 && !sampling && returned > 1)
            throw new InvalidGenerationOptionException("num_return_sequences", returned,
                "greedy decoding returns one sequence per input: use beam search or sampling for more");

        if (EosTokenIds is { } eos)
            foreach (var id in eos)
                if (id < 0) throw new InvalidGenerationOptionException("eos_token_id", eos, "token ids must be non-negative");
        NonNegativeId("pad_token_id", PadTokenId);
        NonNegativeId("forced_bos_token_id", ForcedBosTokenId);
        Ids("forced_eos_token_id", ForcedEosTokenIds);
        Ids("suppress_tokens", SuppressTokens);
        Ids("begin_suppress_tokens", BeginSuppressTokens);
        if (BadWordsIds is { } bad)
        {
            // NoBadWordsLogitsProcessor's own checks: a non-empty list of non-empty lists of non-negative ids.
            if (bad.Count == 0) throw new InvalidGenerationOptionException("bad_words_ids", "[]", "must be a non-empty list of token id lists");
            foreach (var word in bad)
            {
                if (word is null || word.Count == 0)
                    throw new InvalidGenerationOptionException("bad_words_ids", "[]", "every banned sequence needs at least one token id");
                Ids("bad_words_ids", word);
            }
        }
        if (StopStrings is { } stops)
        {
            if (stops.Count == 0) throw new InvalidGenerationOptionException("stop_strings", "[]", "must list at least one string");
            foreach (var stop in stops)
                if (string.IsNullOrEmpty(stop)) throw new InvalidGenerationOptionException("stop_strings", stop ?? "", "stop strings must not be empty");
        }

        // Group beam search: Hugging Face's GenerationConfig.validate rules for it.
        Positive("num_beam_groups", NumBeamGroups);
        AtMost("num_beam_groups", NumBeamGroups, DecodingLimits.MaxBeams);
        if (DiversityPenalty is { } penalty && !double.IsFinite(penalty))
            throw new InvalidGenerationOptionException("diversity_penalty", penalty, "must be a finite number");
        var groups = NumBeamGroups ?? 1;
        var diversity = DiversityPenalty ?? 0.0;
        if (beams > 1 && (groups != 1 || diversity != 0.0))
        {
            const string prefix = "group beam search (`num_beam_groups` > 1 or `diversity_penalty` set): ";
            if (sampling) throw new InvalidGenerationOptionException("do_sample", true, prefix + "`do_sample` must be false");
            if (beams % groups != 0)
                throw new InvalidGenerationOptionException("num_beam_groups", groups, prefix + $"`num_beams` ({beams}) must be divisible by it");
            if (diversity == 0.0)
                throw new InvalidGenerationOptionException("diversity_penalty", diversity, prefix + "must be above 0, or the groups are identical");
            // Hugging Face builds its HammingDiversityLogitsProcessor (which refuses a penalty that is not > 0) for a
            // positive penalty only, and then fails inside plain beam search for want of groups: both are errors here.
            if (diversity < 0)
                throw new InvalidGenerationOptionException("diversity_penalty", diversity, prefix + "must be above 0");
            if (groups == 1)
                throw new InvalidGenerationOptionException("diversity_penalty", diversity, "applies to group beam search only: set `num_beam_groups` above 1");
        }
        NonNegativeId("bos_token_id", BosTokenId);
        NonNegativeId("decoder_start_token_id", DecoderStartTokenId);
    }

    private static void Positive(string name, int? value)
    {
        if (value is { } v && v <= 0) throw new InvalidGenerationOptionException(name, v, "must be a positive integer");
    }

    private static void AtMost(string name, int? value, int limit)
    {
        if (value is { } v && v > limit) throw new DecodingTooLargeException(name, v, limit, "see DecodingLimits for why");
    }

    private static void NonNegative(string name, int? value)
    {
        if (value is { } v && v < 0) throw new InvalidGenerationOptionException(name, v, "must not be negative");
    }

    private static void Ids(string name, IReadOnlyList<long>? ids)
    {
        if (ids is null) return;
        foreach (var id in ids)
            if (id < 0) throw new InvalidGenerationOptionException(name, ids, "token ids must be non-negative");
    }

    private static void NonNegativeId(string name, long? value)
    {
        if (value is { } v && v < 0) throw new InvalidGenerationOptionException(name, v, "token ids must be non-negative");
    }
}
