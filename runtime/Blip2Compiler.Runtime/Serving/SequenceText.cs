namespace Blip2Compiler.Serving;

/// <summary>
/// The text of one generated sequence as its tokens arrive: finds stop sequences across token boundaries and says
/// which text is final, for streaming. The text is the tokenizer's decoding of the new tokens with leading
/// whitespace dropped (as the captioner's trimmed text); a stop sequence ends it, exclusive.
/// </summary>
/// <remarks>
/// Streamed pieces concatenate to exactly the final text: text is held back while it could still change — a tail
/// that is the start of a stop sequence, trailing whitespace (the final text is trimmed), and trailing U+FFFD (a
/// byte-level token that ends inside a UTF-8 character decodes to a replacement character until the rest arrives).
/// </remarks>
internal sealed class SequenceText
{
    private readonly IReadOnlyList<string> _stops;
    private string _emitted = "";

    public SequenceText(IReadOnlyList<string>? stops)
    {
        _stops = stops?.Where(s => !string.IsNullOrEmpty(s)).ToArray() ?? [];
    }

    /// <summary>
    /// The stop sequences of a request: its OpenAI-style <c>stop</c> and the <c>stop_strings</c> of its generation
    /// options (the caller's, or the checkpoint's generation_config.json).
    /// </summary>
    public static IReadOnlyList<string>? Stops(IReadOnlyList<string>? requestStop, Generation.GenerationOptions settings) =>
        settings.StopStrings is not { Count: > 0 } stopStrings ? requestStop : [.. requestStop ?? [], .. stopStrings];

    /// <summary>The text so far (final once <see cref="Stopped"/> or the sequence ends).</summary>
    public string Text { get; private set; } = "";

    /// <summary>A stop sequence was found; the text ends before it.</summary>
    public bool Stopped { get; private set; }

    /// <summary>
    /// Takes the decoding of all new tokens so far; returns the text that became final (possibly empty). After a stop
    /// sequence is found the text no longer changes.
    /// </summary>
    public string Update(string decoded)
    {
        if (Stopped) return "";
        var text = decoded.TrimStart();
        var cut = -1;
        foreach (var stop in _stops)
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0)
        {
            Stopped = true;
            Text = text[..cut].TrimEnd();
            return Release(Text);
        }
        Text = text.TrimEnd();
        return Release(text[..FinalLength(text)]);
    }

    /// <summary>The sequence ended (EOS or length): everything not yet released.</summary>
    public string Finish() => Release(Text);

    private string Release(string final)
    {
        if (final.Length <= _emitted.Length || !final.StartsWith(_emitted, StringComparison.Ordinal)) return "";
        var piece = final[_emitted.Length..];
        _emitted = final;
        return piece;
    }

    // Length of the prefix of `text` that later tokens cannot change.
    private int FinalLength(string text)
    {
        var length = text.Length;
        foreach (var stop in _stops)
            for (var k = Math.Min(stop.Length - 1, text.Length); k > 0; k--)
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    length = Math.Min(length, text.Length - k);
                    break;
                }
        while (length > 0 && (char.IsWhiteSpace(text[length - 1]) || text[length - 1] == '\uFFFD')) length--;
        return length;
    }
}
