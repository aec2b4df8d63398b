using Blip2Compiler.Processing;

namespace Blip2Compiler.Generation;

/// <summary>
/// Hugging Face's <c>StopStringCriteria</c>, matched on text: a row is done once the decoding of its generated ids
/// contains a stop string, wherever the token boundaries fall ("st" + "op", or a token "stopper" that runs past it).
/// Checked after every step, so a match is found at the step whose token completes it — the token Hugging Face's
/// precomputed token-overlap tables find. Two differences, both from matching text rather than token strings: the
/// text is the tokenizer's decoding of the generated ids with special tokens dropped (Hugging Face also matches the
/// text of special tokens such as "&lt;/s&gt;"), and a stop string that begins inside the prompt does not count
/// (as OpenAI's <c>stop</c>).
/// </summary>
public sealed class StopStringCriteria
{
    private readonly string[] _stops;

    public StopStringCriteria(IReadOnlyList<string> stopStrings, ITextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(stopStrings);
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _stops = [.. stopStrings];
        foreach (var stop in _stops)
            if (string.IsNullOrEmpty(stop)) throw new InvalidGenerationOptionException("stop_strings", stop ?? "", "stop strings must not be empty");
    }

    public IReadOnlyList<string> StopStrings => _stops;

    public ITextTokenizer Tokenizer { get; }

    /// <summary>The text of a row's generated ids (special tokens dropped).</summary>
    public string Decode(IEnumerable<long> generated) => Tokenizer.Decode(generated.Select(id => checked((int)id)));

    /// <summary>True when the text of <paramref name="generated"/> contains a stop string.</summary>
    public bool IsMatched(IEnumerable<long> generated) => FirstMatch(Decode(generated), _stops) >= 0;

    /// <summary><paramref name="text"/> up to the earliest stop string (all of it when none occurs).</summary>
    public static string Cut(string text, IReadOnlyList<string>? stopStrings)
    {
        ArgumentNullException.ThrowIfNull(text);
        var at = stopStrings is null ? -1 : FirstMatch(text, stopStrings);
        return at < 0 ? text : text[..at];
    }

    private static int FirstMatch(string text, IReadOnlyList<string> stops)
    {
        var first = -1;
        foreach (var stop in stops)
        {
            if (string.IsNullOrEmpty(stop)) continue;
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }
}
