using Blip2Compiler.Serving;

namespace Blip2Compiler.Server.Tests.Engine;

/// <summary>
/// SequenceText (both engines' stop sequences and streamed text) fed token by token from the tiny checkpoint's GPT-2
/// BPE tokenizer: stops across token boundaries, held-back text, whole characters.
/// </summary>
public class SequenceTextTests(TinyModels models) : IClassFixture<TinyModels>
{
    private (SequenceText Text, List<string> Pieces, bool Stopped) Feed(string text, params string[] stops)
    {
        var pieces = new List<string>();
        var sequence = new SequenceText(stops);
        var tokens = new List<int>();
        foreach (var token in models.Captioner.Tokenizer.Encode(text, addSpecialTokens: false))
        {
            tokens.Add(token);
            pieces.Add(sequence.Update(models.Captioner.Tokenizer.Decode(tokens)));
            if (sequence.Stopped) break;
        }
        pieces.Add(sequence.Finish());
        return (sequence, pieces.Where(p => p.Length > 0).ToList(), sequence.Stopped);
    }

    [Fact]
    public void TextEndsBeforeAStopThatSpansTokens()
    {
        var (text, pieces, stopped) = Feed(" an astronaut riding a horse on the moon", "ding a h");
        Assert.True(stopped);
        Assert.Equal("an astronaut ri", text.Text);
        Assert.Equal("an astronaut ri", string.Concat(pieces));
    }

    [Fact]
    public void TheEarliestStopWins()
    {
        var (text, _, _) = Feed(" one two three four", "four", "two");
        Assert.Equal("one", text.Text);
    }

    [Fact]
    public void APossibleStopIsHeldBackThenReleased()
    {
        // "hor" could begin "horn": it is not streamed until "se" shows it is not.
        var (text, pieces, stopped) = Feed(" a horse on the moon", "horn");
        Assert.False(stopped);
        Assert.Equal("a horse on the moon", text.Text);
        Assert.Equal(text.Text, string.Concat(pieces));
    }

    [Fact]
    public void MultiByteCharactersStreamWhole()
    {
        var (text, pieces, _) = Feed(" café 🚀 ok");
        Assert.Equal("café 🚀 ok", text.Text);
        Assert.All(pieces, p => Assert.DoesNotContain('\uFFFD', p));
        Assert.Equal(text.Text, string.Concat(pieces));
    }
}
