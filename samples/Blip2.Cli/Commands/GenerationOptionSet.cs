using System.CommandLine;
using Blip2Compiler.Generation;

namespace Blip2.Cli.Commands;

/// <summary>The decoding options caption and ask share; unset ones come from the checkpoint's generation_config.json.</summary>
internal sealed class GenerationOptionSet
{
    /// <summary>
    /// The most beams --beams takes, the library's own bound (DecodingLimits.MaxBeams): every beam is a row of the KV
    /// cache, and 128 beams of OPT-2.7b at its 2,048 positions already hold 86 GB in bfloat16. BLIP-2's evaluations
    /// use 5. Unbounded, --beams 100000 ran 104 s and took 6 GB on the tiny model before failing.
    /// </summary>
    public const int MaxBeams = 128;

    private readonly Option<int?> _beams = OptionValues.WholeNumber("--beams", "Beam search with this many beams (1: greedy).");
    private readonly Option<int?> _maxNewTokens = OptionValues.WholeNumber("--max-new-tokens", "Most tokens to generate.");
    private readonly Option<int?> _minNewTokens = OptionValues.WholeNumber("--min-new-tokens", "Fewest tokens to generate before the end token is allowed.");
    private readonly Option<double?> _repetitionPenalty = OptionValues.Number("--repetition-penalty", "Penalty for repeating a token (1.0: none).");
    private readonly Option<bool> _sample = new("--sample") { Description = "Sample instead of picking the most likely token." };
    private readonly Option<double?> _temperature = OptionValues.Number("--temperature", "Sampling temperature (with --sample).");
    private readonly Option<double?> _topP = OptionValues.Number("--top-p", "Nucleus sampling: keep the smallest set of tokens with this total probability (with --sample).");
    private readonly Option<int?> _topK = OptionValues.WholeNumber("--top-k", "Keep the k most likely tokens (with --sample).");
    private readonly Option<long?> _seed = OptionValues.LongNumber("--seed", "Seed for sampling, so runs repeat.");
    private readonly Option<string[]> _stop = new("--stop")
    {
        Description = "End the text at this string, which is left out (repeatable; matched across token boundaries).",
        HelpName = "TEXT", Arity = ArgumentArity.ZeroOrMore, AllowMultipleArgumentsPerToken = false,
    };
    private readonly Option<int?> _returned = OptionValues.WholeNumber("--num-return-sequences",
        "Results per image, best first (with --beams up to the beam count, or with --sample).", "-n");
    private readonly Option<int?> _noRepeatNgram = OptionValues.WholeNumber("--no-repeat-ngram-size", "Never repeat an n-gram of this many tokens.");
    private readonly Option<double?> _lengthPenalty = OptionValues.Number("--length-penalty", "Beam search: finished beams score log-probability / length^X (default 1.0).");
    private readonly Option<int?> _beamGroups = OptionValues.WholeNumber("--beam-groups", "Diverse beam search: split the beams into this many groups (with --diversity-penalty).");
    private readonly Option<double?> _diversityPenalty = OptionValues.Number("--diversity-penalty", "Diverse beam search: penalty for a token an earlier group chose in the same step.");

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _beams, _maxNewTokens, _minNewTokens, _repetitionPenalty, _sample, _temperature, _topP, _topK, _seed,
                     _stop, _returned, _noRepeatNgram, _lengthPenalty, _beamGroups, _diversityPenalty })
            command.Options.Add(option);
    }

    /// <summary>
    /// The options given on the command line, checked here: a bad one is a command-line mistake (a UsageException
    /// naming it), unlike a bad value in the checkpoint's generation_config.json, which the captioner reports.
    /// </summary>
    // The flags' own names in the library's messages, which speak Hugging Face's.
    private static string FlagNames(string message) => message
        .Replace("`num_return_sequences`", "-n/--num-return-sequences").Replace("`num_beams`", "--beams")
        .Replace("`num_beam_groups`", "--beam-groups").Replace("`diversity_penalty`", "--diversity-penalty")
        .Replace("`do_sample`", "--sample").Replace("`no_repeat_ngram_size`", "--no-repeat-ngram-size")
        .Replace("`length_penalty`", "--length-penalty").Replace("`stop_strings`", "--stop");

    public GenerationOptions Read(ParseResult parse)
    {
        bool sample = parse.GetValue(_sample);
        if (!sample && (parse.GetValue(_temperature) is not null || parse.GetValue(_topP) is not null || parse.GetValue(_topK) is not null))
            throw new UsageException("--temperature, --top-p and --top-k only apply with --sample");
        if (parse.GetValue(_beams) is > MaxBeams and var beams)
            throw new UsageException($"--beams is {beams}, more than the {MaxBeams} this tool allows (BLIP-2's evaluations use 5)");
        var options = new GenerationOptions
        {
            NumBeams = parse.GetValue(_beams),
            MaxNewTokens = parse.GetValue(_maxNewTokens),
            MinNewTokens = parse.GetValue(_minNewTokens),
            RepetitionPenalty = parse.GetValue(_repetitionPenalty),
            DoSample = sample ? true : null,
            Temperature = parse.GetValue(_temperature),
            TopP = parse.GetValue(_topP),
            TopK = parse.GetValue(_topK),
            Seed = parse.GetValue(_seed),
            StopStrings = parse.GetValue(_stop) is { Length: > 0 } stops ? stops : null,
            NumReturnSequences = parse.GetValue(_returned),
            NoRepeatNgramSize = parse.GetValue(_noRepeatNgram),
            LengthPenalty = parse.GetValue(_lengthPenalty),
            NumBeamGroups = parse.GetValue(_beamGroups),
            DiversityPenalty = parse.GetValue(_diversityPenalty),
        };
        if (options.StopStrings is { } given && given.Any(string.IsNullOrEmpty)) throw new UsageException("--stop needs a non-empty text");
        try
        {
            options.Validate();
        }
        catch (InvalidGenerationOptionException e)
        {
            throw new UsageException(FlagNames(e.Message), e);
        }
        return options;
    }
}
