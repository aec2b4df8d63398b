using Blip2Compiler.Processing;

namespace Blip2Compiler.Serving;

/// <summary>
/// The text of one generated sequence as its tokens arrive: stop sequences found across token boundaries (the text
/// ends before the first one), and the pieces that are final, for streaming. A piece is held back while it could
/// still become the start of a stop sequence, or while it ends in an incomplete UTF-8 character (byte-level BPE
/// pieces only make text together), so what was streamed is always a prefix of <see cref="Text"/>.
/// </summary>
public sealed class StreamingText
{
    private readonly ITextTokenizer _tokenizer;
    private readonly IReadOnlyList<string> _stops;
    private readonly Action<string>? _onText;
    private readonly List<int> _tokens = [];
    private string _decoded = "";
    private int _sent;

    public StreamingText(ITextTokenizer tokenizer, IReadOnlyList<string>? stops = null, Action<string>? onText = null)
    {
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _stops = stops?.Where(s => s.Length > 0).ToArray() ?? [];
        _onText = onText;
    }

    /// <summary>A stop sequence was found: further tokens are ignored.</summary>
    public bool Stopped { get; private set; }

    /// <summary>The tokens taken so far (up to the one that completed a stop sequence).</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    /// <summary>The text so far: decoded, leading space trimmed, cut before a stop sequence once one is found.</summary>
    public string Text => _decoded;

    /// <summary>Takes one new (non-EOS) token; returns true when it completed a stop sequence.</summary>
    public bool Add(int token)
    {
        if (Stopped) return false;
        _tokens.Add(token);
        var text = _tokenizer.Decode(_tokens).TrimStart();
        var cut = FirstStop(text);
        if (cut >= 0)
        {
            Stopped = true;
            _decoded = text[..cut].TrimEnd();
            Send(_decoded.Length);
            return true;
        }
        _decoded = text;
        Send(text.Length - Math.Max(StopPrefixAtEnd(text), IncompleteAtEnd(text)));
        return false;
    }

    /// <summary>The sequence ended (EOS or length): the final text (trimmed, as the captioner returns it), the rest streamed.</summary>
    public string Finish()
    {
        if (!Stopped) _decoded = _decoded.TrimEnd();
        Send(_decoded.Length);
        return _decoded;
    }

    private void Send(int upTo)
    {
        if (upTo <= _sent) return;
        _onText?.Invoke(_decoded[_sent..upTo]);
        _sent = upTo;
    }

    private int FirstStop(string text)
    {
        var first = -1;
        foreach (var stop in _stops)
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }

    // The longest end of the text that is the beginning of a stop sequence: it may still become one.
    private int StopPrefixAtEnd(string text)
    {
        var longest = 0;
        foreach (var stop in _stops)
            for (var length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length))) { longest = length; break; }
        return longest;
    }

    // U+FFFD at the end: the tokens so far end inside a UTF-8 character; trailing spaces may still be trimmed.
    private static int IncompleteAtEnd(string text)
    {
        var n = 0;
        while (n < text.Length && (text[^(n + 1)] == '\uFFFD' || char.IsWhiteSpace(text[^(n + 1)]))) n++;
        return n;
    }
}
